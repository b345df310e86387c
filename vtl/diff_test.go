package vtl

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The differential suite renders every corpus case with the reference
// implementation (Velocity 1.7 + Jayway JsonPath + json-smart +
// commons-lang, driven by testdata/harness/Harness.java, all cases in one
// JVM) and with this engine, and wants the same bytes, or an error from
// both.

// harnessJars are the jars Harness.java needs, with the Debian package
// that ships each.
var harnessJars = []struct{ jar, pkg string }{
	{"velocity-1.7.jar", "velocity"},
	{"commons-collections3.jar", "libcommons-collections3-java (dependency of velocity)"},
	{"commons-lang.jar", "libcommons-lang-java"},
	{"json-path.jar", "libjsonpath-java"},
	{"json-smart.jar", "libjson-smart-java"},
	{"accessors-smart.jar", "libjson-smart-java (accessors-smart)"},
	{"asm.jar", "libasm-java (dependency of libjson-smart-java)"},
	{"slf4j-api.jar", "libslf4j-java (dependency of libjsonpath-java)"},
}

// jarDir is where Debian installs the jars; VTL_JAR_DIR overrides it.
func jarDir() string {
	if d := os.Getenv("VTL_JAR_DIR"); d != "" {
		return d
	}
	return "/usr/share/java"
}

// referenceUnavailable fails in CI and skips loudly elsewhere.
func referenceUnavailable(t *testing.T, missing []string) {
	t.Helper()
	msg := "VTL DIFFERENTIAL SUITE NOT RUN: missing " + strings.Join(missing, ", ") +
		"\n  install: apt-get install default-jdk-headless velocity libjsonpath-java libjson-smart-java libcommons-lang-java"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	// Straight to stderr as well: go test hides skip messages without -v.
	fmt.Fprintf(os.Stderr, "\n********\n%s\n********\n", msg)
	t.Skip("\n\n********\n" + msg + "\n********\n")
}

type harnessResult struct {
	Name   string  `json:"name"`
	Output string  `json:"output"`
	Error  *string `json:"error"`
}

// runHarness compiles the harness and renders all cases in one JVM run.
func runHarness(t *testing.T, cases []diffCase) map[string]harnessResult {
	t.Helper()
	var missing []string
	java, errJava := exec.LookPath("java")
	javac, errJavac := exec.LookPath("javac")
	if errJava != nil || errJavac != nil {
		missing = append(missing, "a JDK (java and javac: Debian package default-jdk-headless)")
	}
	var cp []string
	for _, j := range harnessJars {
		p := filepath.Join(jarDir(), j.jar)
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p+" (Debian package "+j.pkg+")")
		}
		cp = append(cp, p)
	}
	if nop := filepath.Join(jarDir(), "slf4j-nop.jar"); fileExists(nop) {
		cp = append(cp, nop) // silences SLF4J's warning; optional
	}
	if len(missing) > 0 {
		referenceUnavailable(t, missing)
	}
	dir := t.TempDir()
	classpath := strings.Join(cp, ":")
	out, err := exec.Command(javac, "-nowarn", "-encoding", "UTF-8", "-cp", classpath, "-d", dir, "testdata/harness/Harness.java").CombinedOutput()
	if err != nil {
		t.Fatalf("javac: %v\n%s", err, out)
	}
	in := filepath.Join(dir, "cases.jsonl")
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, c := range cases {
		if err := enc.Encode(c); err != nil {
			t.Fatal(err)
		}
	}
	// json-smart's strict mode rejects a raw DEL, which encoding/json keeps.
	data := bytes.ReplaceAll(buf.Bytes(), []byte{0x7f}, []byte(`\u007f`))
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	res := filepath.Join(dir, "results.jsonl")
	start := time.Now()
	cmd := exec.Command(java, "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp", classpath+":"+dir, "Harness", in, res)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("harness: %v\n%s", err, out)
	}
	t.Logf("reference rendered %d cases in %v", len(cases), time.Since(start))
	f, err := os.Open(res)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	results := map[string]harnessResult{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var r harnessResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		results[r.Name] = r
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return results
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func renderCase(t *testing.T, c diffCase) (string, error) {
	tmpl, err := Parse(c.Name, c.Template)
	if err != nil {
		return "", err
	}
	if c.WS != nil {
		return tmpl.RenderString(&APIGatewayData{Context: *c.WS, Body: c.Body, StageVariables: map[string]string{"env": "prod", "table": "connections"}})
	}
	return tmpl.RenderString(caseVars(t, c))
}

func TestDifferential(t *testing.T) {
	cases := loadCorpus(t)
	if len(cases) < 200 {
		t.Fatalf("corpus has %d cases, want at least 200", len(cases))
	}
	results := runHarness(t, cases)
	refErrors := 0
	for _, r := range results {
		if r.Error != nil {
			refErrors++
		}
	}
	t.Logf("%d cases, %d of which Velocity refuses", len(cases), refErrors)
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			ref, ok := results[c.Name]
			if !ok {
				t.Fatal("no reference result")
			}
			got, err := renderCase(t, c)
			if c.Differs != "" {
				// A deliberate difference: pin our behaviour, show theirs.
				t.Logf("differs on purpose (%s); Velocity: output=%q error=%v", c.Differs, ref.Output, deref(ref.Error))
				if c.HasExp {
					if c.Expect == "ERROR" {
						if err == nil {
							t.Errorf("want an error, got %q", got)
						}
					} else if err != nil || got != c.Expect {
						t.Errorf("got %q (err %v), want %q", got, err, c.Expect)
					}
				}
				return
			}
			switch {
			case ref.Error != nil && err != nil:
				// Both refuse.
			case ref.Error != nil:
				t.Errorf("Velocity fails (%s) but we render %q", *ref.Error, got)
			case err != nil:
				t.Errorf("we fail (%v) but Velocity renders %q", err, ref.Output)
			case got != ref.Output:
				t.Errorf("output differs\n template: %q\n velocity: %q\n      ours: %q", c.Template, ref.Output, got)
			}
		})
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
