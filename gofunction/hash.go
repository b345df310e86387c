package gofunction

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// buildTags are passed to go list and go build alike: tags select files.
const buildTags = "lambda.norpc"

// buildFlags are the go build flags, part of the asset hash.
var buildFlags = []string{"-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-tags", buildTags}

// buildEnv is the environment of go list, go env and go build.
func buildEnv(goarch string) []string {
	return append(os.Environ(), "GOOS=linux", "GOARCH="+goarch, "CGO_ENABLED=0", "GOFLAGS=-mod=readonly")
}

// listedPackage is what the hash needs of `go list -json`.
type listedPackage struct {
	ImportPath string
	Name       string
	Dir        string
	Module     *listedModule
	GoFiles    []string
	CgoFiles   []string
	EmbedFiles []string
	SFiles     []string
	HFiles     []string
	CFiles     []string
	SysoFiles  []string
	Error      *struct{ Err string }
	DepsErrors []*struct{ Err string }
}

type listedModule struct {
	Path    string
	Main    bool
	Dir     string
	GoMod   string
	Replace *listedModule
	Version string
}

const listFields = "ImportPath,Name,Dir,Module,GoFiles,CgoFiles,EmbedFiles,SFiles,HFiles,CFiles,SysoFiles,Error,DepsErrors"

// local reports whether the module's files are read from disk unpinned by
// go.sum: the main module(s) and modules replaced by a directory.
func (m *listedModule) local() bool {
	return m != nil && (m.Main || (m.Replace != nil && m.Replace.Version == ""))
}

// goOutput runs the go command in dir with the build's environment for
// goarch and returns its standard output; a failure carries go's own
// message (its standard error).
func goOutput(dir, goarch string, args ...string) ([]byte, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = buildEnv(goarch)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%v\n%s", err, stderr.Bytes())
	}
	return out, nil
}

var (
	goEnvMu    sync.Mutex
	goEnvCache = map[string]string{}
)

// goEnv is `go env` of what selects the compiler and its code generation,
// run once per process for each module directory and architecture.
func goEnv(moduleDir, goarch string) (string, error) {
	key := moduleDir + "\x00" + goarch
	goEnvMu.Lock()
	defer goEnvMu.Unlock()
	if v, ok := goEnvCache[key]; ok {
		return v, nil
	}
	names := []string{"GOVERSION", "GOAMD64", "GOARM64", "GOEXPERIMENT", "GOWORK"}
	out, err := goOutput(moduleDir, goarch, append([]string{"env", "-json"}, names...)...)
	if err != nil {
		return "", fmt.Errorf("go env: %w", err)
	}
	values := map[string]string{}
	if err := json.Unmarshal(out, &values); err != nil {
		return "", fmt.Errorf("go env: %v", err)
	}
	var b strings.Builder
	for _, name := range names {
		fmt.Fprintf(&b, "%s=%s\n", name, values[name])
	}
	goEnvCache[key] = b.String()
	return b.String(), nil
}

// AssetHash is the hash of the inputs of building entry, a main package
// path relative to moduleDir (./lambdas/connect), for linux/goarch (arm64 or
// amd64). It is what Code passes to CDK as the custom asset hash; see the
// package documentation for what goes in.
func AssetHash(moduleDir, entry, goarch string) (string, error) {
	absModule, err := filepath.Abs(moduleDir)
	if err != nil {
		return "", err
	}
	env, err := goEnv(absModule, goarch)
	if err != nil {
		return "", err
	}

	out, err := goOutput(absModule, goarch, "list", "-tags", buildTags, "-deps", "-json="+listFields, "--", entry)
	if err != nil {
		return "", fmt.Errorf("go list %s: %w", entry, err)
	}
	var pkgs []*listedPackage
	for dec := json.NewDecoder(bytes.NewReader(out)); ; {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return "", fmt.Errorf("go list %s: %v", entry, err)
		}
		pkgs = append(pkgs, &p)
	}
	if len(pkgs) == 0 {
		return "", fmt.Errorf("go list %s: no package", entry)
	}
	// -deps prints every package after its dependencies: the entry last.
	root := pkgs[len(pkgs)-1]
	var problems []string
	for _, p := range pkgs {
		if p.Error != nil {
			problems = append(problems, p.Error.Err)
		}
		for _, e := range p.DepsErrors {
			problems = append(problems, e.Err)
		}
	}
	if root.Name != "main" && root.Error == nil {
		problems = append(problems, fmt.Sprintf("%s is package %s, not a main package", entry, root.Name))
	}
	if len(problems) > 0 {
		return "", fmt.Errorf("go list %s:\n  %s", entry, strings.Join(problems, "\n  "))
	}

	files := map[string]bool{}
	for _, p := range pkgs {
		if !p.Module.local() {
			continue
		}
		for _, list := range [][]string{p.GoFiles, p.CgoFiles, p.EmbedFiles, p.SFiles, p.HFiles, p.CFiles, p.SysoFiles} {
			for _, f := range list {
				files[filepath.Join(p.Dir, f)] = true
			}
		}
		m := p.Module
		if m.Replace != nil {
			m = m.Replace
		}
		if m.GoMod != "" {
			files[m.GoMod] = true
			if sum := filepath.Join(filepath.Dir(m.GoMod), "go.sum"); exists(sum) {
				files[sum] = true
			}
		}
	}
	if work := envValue(env, "GOWORK"); work != "" && work != "off" {
		files[work] = true
		if sum := work + ".sum"; exists(sum) {
			files[sum] = true
		}
	}

	type entryDigest struct{ rel, digest string }
	digests := make([]entryDigest, 0, len(files))
	for f := range files {
		rel, err := filepath.Rel(absModule, f)
		if err != nil {
			return "", err
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		sum := sha256.Sum256(data)
		digests = append(digests, entryDigest{filepath.ToSlash(rel), hex.EncodeToString(sum[:])})
	}
	sort.Slice(digests, func(i, j int) bool { return digests[i].rel < digests[j].rel })

	h := sha256.New()
	fmt.Fprintf(h, "wsapi/gofunction v1\n%sGOOS=linux\nGOARCH=%s\nCGO_ENABLED=0\nflags=%q\nentry=%s\n",
		envWithoutWork(env), goarch, buildFlags, root.ImportPath)
	for _, d := range digests {
		fmt.Fprintf(h, "%s %q\n", d.digest, d.rel)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func envValue(env, name string) string {
	for line := range strings.SplitSeq(env, "\n") {
		if v, ok := strings.CutPrefix(line, name+"="); ok {
			return v
		}
	}
	return ""
}

// envWithoutWork leaves out GOWORK, an absolute path: its file is hashed.
func envWithoutWork(env string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(strings.TrimRight(env, "\n"), "\n") {
		if !strings.HasPrefix(line, "GOWORK=") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}
