package test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// cfnLintIgnored lists the cfn-lint rules the suite ignores, each with why.
// Everything else, warnings included, fails the test.
var cfnLintIgnored = map[string]string{
	// CDK adds an explicit DependsOn on a function's role (and its default
	// policy) beside the GetAtt of the role ARN, so that the policy exists
	// before the function can be invoked; the duplicate edge is harmless.
	"W3005": "obsolete DependsOn: CDK's own explicit dependency of each function on its role",
}

// cfnLintFinding is one entry of `cfn-lint --format json`.
type cfnLintFinding struct {
	Filename string
	Level    string
	Message  string
	Rule     struct {
		ID string `json:"Id"`
	}
	Location struct{ Path []any }
}

// TestCfnLint runs cfn-lint on every stack variant the tests synthesize:
// none may have an error or a warning outside cfnLintIgnored. cfn-lint ships
// in the machine image (pip); without it the test fails in CI and skips
// elsewhere, naming what to install.
func TestCfnLint(t *testing.T) {
	lint, err := exec.LookPath("cfn-lint")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("cfn-lint is not installed; CI needs it (pip install cfn-lint==1.51.0)")
		}
		t.Skip("cfn-lint is not installed (pip install cfn-lint==1.51.0); skipping the CloudFormation lint")
	}
	dir := t.TempDir()
	var files []string
	for name, s := range variants(t) {
		file := filepath.Join(dir, name+".template.json")
		if err := os.WriteFile(file, s.raw, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, file)
	}
	ignore := make([]string, 0, len(cfnLintIgnored))
	for rule := range cfnLintIgnored {
		ignore = append(ignore, rule)
	}
	args := append([]string{"--format", "json", "--ignore-checks=" + strings.Join(ignore, ",")}, files...)
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(lint, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	// cfn-lint exits non-zero when it reports anything; its JSON says what.
	var exitErr *exec.ExitError
	if runErr != nil && !errors.As(runErr, &exitErr) {
		t.Fatalf("cfn-lint: %v\n%s", runErr, stderr.String())
	}
	var findings []cfnLintFinding
	if err := json.Unmarshal(stdout.Bytes(), &findings); err != nil {
		t.Fatalf("cfn-lint output is not JSON (%v):\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	for _, f := range findings {
		t.Errorf("%s: %s %s at %v: %s", filepath.Base(f.Filename), f.Level, f.Rule.ID, f.Location.Path, f.Message)
	}
	if runErr != nil && len(findings) == 0 {
		t.Errorf("cfn-lint failed without findings: %v\n%s", runErr, stderr.String())
	}
	t.Logf("cfn-lint: %d variants, %d findings (ignored: %v)", len(files), len(findings), ignore)
}
