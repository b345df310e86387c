package gofunction

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"
)

func TestMain(m *testing.M) {
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

// moduleFiles is a throwaway module: a main package that imports lib,
// which embeds data.txt, and a package nothing imports.
var moduleFiles = map[string]string{
	"go.mod":         "module example.com/tm\n\ngo 1.26\n",
	"go.sum":         "example.com/unused v1.0.0 h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
	"cmd/fn/main.go": "package main\n\nimport \"example.com/tm/lib\"\n\nfunc main() { println(lib.Greeting()) }\n",
	"lib/lib.go":     "package lib\n\nimport _ \"embed\"\n\n//go:embed data.txt\nvar data string\n\nfunc Greeting() string { return data }\n",
	"lib/data.txt":   "hello\n",
	"other/other.go": "package other\n\nfunc Other() int { return 1 }\n",
}

// writeModule writes moduleFiles under a new temporary folder.
func writeModule(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range moduleFiles {
		writeFile(t, filepath.Join(dir, name), content)
	}
	return dir
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, path, content string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(data)+content)
}

func mustHash(t *testing.T, dir, goarch string) string {
	t.Helper()
	h, err := AssetHash(dir, "./cmd/fn", goarch)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestAssetHash(t *testing.T) {
	tests := []struct {
		name       string
		edit       func(t *testing.T, dir string)
		goarch     string // of the second hash; arm64 if empty
		wantChange bool
	}{
		{"nothing changed", func(*testing.T, string) {}, "", false},
		{"imported package's Go file", func(t *testing.T, dir string) {
			appendFile(t, filepath.Join(dir, "lib/lib.go"), "\nfunc More() {}\n")
		}, "", true},
		{"new Go file in an imported package", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "lib/more.go"), "package lib\n")
		}, "", true},
		{"main package's Go file", func(t *testing.T, dir string) {
			appendFile(t, filepath.Join(dir, "cmd/fn/main.go"), "\n// a comment\n")
		}, "", true},
		{"embedded file", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "lib/data.txt"), "hello, world\n")
		}, "", true},
		{"package not imported", func(t *testing.T, dir string) {
			appendFile(t, filepath.Join(dir, "other/other.go"), "\nfunc More() {}\n")
		}, "", false},
		{"not embedded file next to an embedded one", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "lib/notes.md"), "notes\n")
		}, "", false},
		{"test file of an imported package", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "lib/lib_test.go"), "package lib\n")
		}, "", false},
		{"go.sum", func(t *testing.T, dir string) {
			appendFile(t, filepath.Join(dir, "go.sum"), "example.com/unused v1.0.0/go.mod h1:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB=\n")
		}, "", true},
		{"go.mod", func(t *testing.T, dir string) {
			appendFile(t, filepath.Join(dir, "go.mod"), "\n// a comment\n")
		}, "", true},
		{"GOARCH", func(*testing.T, string) {}, "amd64", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeModule(t)
			before := mustHash(t, dir, "arm64")
			tt.edit(t, dir)
			goarch := tt.goarch
			if goarch == "" {
				goarch = "arm64"
			}
			after := mustHash(t, dir, goarch)
			if changed := after != before; changed != tt.wantChange {
				t.Errorf("hash changed = %v, want %v (%s → %s)", changed, tt.wantChange, before, after)
			}
		})
	}
}

func TestAssetHashSameAtAnotherPath(t *testing.T) {
	a, b := writeModule(t), writeModule(t)
	if a == b {
		t.Fatal("one folder")
	}
	if ha, hb := mustHash(t, a, "arm64"), mustHash(t, b, "arm64"); ha != hb {
		t.Errorf("hash at %s = %s, at %s = %s", a, ha, b, hb)
	}
}

func TestAssetHashErrors(t *testing.T) {
	tests := []struct {
		name, entry, want string
	}{
		{"not a main package", "./lib", "not a main package"},
		{"no such package", "./nothing", "nothing"},
	}
	dir := writeModule(t)
	writeFile(t, filepath.Join(dir, "broken/main.go"), "package main\n\nimport \"example.com/tm/missing\"\n\nfunc main() { missing.X() }\n")
	tests = append(tests, struct{ name, entry, want string }{"missing import", "./broken", "missing"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := AssetHash(dir, tt.entry, "arm64")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	dir := writeModule(t)
	tests := []struct {
		name                   string
		moduleDir, entry, arch string
		wantEntry, wantGoarch  string
		wantProblems           []string // substrings, one per problem
	}{
		{name: "defaults to arm64", moduleDir: dir, entry: "./cmd/fn", wantEntry: "./cmd/fn", wantGoarch: "arm64"},
		{name: "x86_64", moduleDir: dir, entry: "cmd/fn", arch: "x86_64", wantEntry: "./cmd/fn", wantGoarch: "amd64"},
		{name: "go.mod as ModuleDir, main.go as Entry", moduleDir: filepath.Join(dir, "go.mod"), entry: "./cmd/fn/main.go", wantEntry: "./cmd/fn", wantGoarch: "arm64"},
		{name: "absolute Entry inside the module", moduleDir: dir, entry: filepath.Join(dir, "cmd/fn"), wantEntry: "./cmd/fn", wantGoarch: "arm64"},
		{name: "every problem at once", moduleDir: filepath.Join(dir, "lib"), entry: "", arch: "s390x",
			wantProblems: []string{"Architecture", "no go.mod", "Entry is required"}},
		{name: "Entry outside the module", moduleDir: dir, entry: "../elsewhere", wantProblems: []string{"outside ModuleDir"}},
		{name: "Entry missing", moduleDir: dir, entry: "./cmd/nothing", wantProblems: []string{"no folder"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, problems := validate(tt.moduleDir, tt.entry, tt.arch)
			if len(problems) != len(tt.wantProblems) {
				t.Fatalf("problems = %q, want %d: %q", problems, len(tt.wantProblems), tt.wantProblems)
			}
			for i, want := range tt.wantProblems {
				if !strings.Contains(problems[i], want) {
					t.Errorf("problem %d = %q, want one containing %q", i, problems[i], want)
				}
			}
			if len(problems) == 0 && (r.entry != tt.wantEntry || r.goarch != tt.wantGoarch || r.moduleDir != dir) {
				t.Errorf("resolved %+v, want entry %s, goarch %s, module %s", r, tt.wantEntry, tt.wantGoarch, dir)
			}
		})
	}
}

func TestNewGoFunctionReportsEveryProblem(t *testing.T) {
	defer func() {
		msg := fmt.Sprint(recover())
		for _, want := range []string{"Fn: 2 problem(s)", "no go.mod", "Entry is required"} {
			if !strings.Contains(msg, want) {
				t.Errorf("panic %q, want it to contain %q", msg, want)
			}
		}
	}()
	NewGoFunction(nil, jsii.String("Fn"), &GoFunctionProps{ModuleDir: t.TempDir()})
}

// TestSynthSkipsBuildAndReproduces synthesizes twice into one cloud
// assembly, as two cdk synth runs would, and builds the same inputs again.
func TestSynthSkipsBuildAndReproduces(t *testing.T) {
	dir, outdir := writeModule(t), t.TempDir()
	synth := func() map[string]any {
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outdir)})
		stack := awscdk.NewStack(app, jsii.String("S"), nil)
		NewGoFunction(stack, jsii.String("Fn"), &GoFunctionProps{
			ModuleDir:       dir,
			Entry:           "./cmd/fn",
			FunctionOptions: awslambda.FunctionOptions{MemorySize: jsii.Number(256), Description: jsii.String("d")},
		})
		app.Synth(nil)
		data, err := os.ReadFile(filepath.Join(outdir, "S.template.json"))
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatal(err)
		}
		return doc
	}

	start := builds.Load()
	first := synth()
	if n := builds.Load() - start; n != 1 {
		t.Fatalf("first synth: %d builds, want 1", n)
	}
	props := first["Resources"].(map[string]any)["Fn9270CBC0"].(map[string]any)["Properties"].(map[string]any)
	for key, want := range map[string]any{"Runtime": "provided.al2023", "Handler": "bootstrap", "MemorySize": 256.0, "Description": "d"} {
		if props[key] != want {
			t.Errorf("%s = %v, want %v", key, props[key], want)
		}
	}
	if got := fmt.Sprint(props["Architectures"]); got != "[arm64]" {
		t.Errorf("Architectures = %s, want [arm64]", got)
	}
	staged, err := filepath.Glob(filepath.Join(outdir, "asset.*", "bootstrap"))
	if err != nil || len(staged) != 1 {
		t.Fatalf("staged bootstraps %q (%v), want 1", staged, err)
	}
	info, err := os.Stat(staged[0])
	if err != nil {
		t.Fatal(err)
	}

	// A new process would not have CDK's in-memory cache of staged assets.
	awscdk.AssetStaging_ClearAssetHashCache()
	second := synth()
	if n := builds.Load() - start; n != 1 {
		t.Errorf("second synth: %d builds in all, want 1 (the staged asset reused)", n)
	}
	if again, err := os.Stat(staged[0]); err != nil || !again.ModTime().Equal(info.ModTime()) {
		t.Errorf("staged bootstrap touched by the second synth (%v)", err)
	}
	firstKey := fmt.Sprint(props["Code"])
	secondKey := fmt.Sprint(second["Resources"].(map[string]any)["Fn9270CBC0"].(map[string]any)["Properties"].(map[string]any)["Code"])
	if firstKey != secondKey {
		t.Errorf("Code %s, then %s", firstKey, secondKey)
	}

	// The staged binary is what the same inputs build, byte for byte, from
	// another checkout path too: the hash of the inputs stands for it.
	want, err := os.ReadFile(staged[0])
	if err != nil {
		t.Fatal(err)
	}
	elsewhere := writeModule(t)
	out := filepath.Join(t.TempDir(), "bootstrap")
	if err := build(elsewhere, "./cmd/fn", "arm64", out); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("rebuild at another path differs: %d bytes, staged %d", len(got), len(want))
	}
}
