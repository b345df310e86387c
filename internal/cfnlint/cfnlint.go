// Package cfnlint runs cfn-lint (the AWS CloudFormation linter, a Python
// tool from pip) on synthesized templates with the project's one list of
// ignored rules, shared by the template tests and the review report so the
// two cannot disagree. It shells out to the cfn-lint command and reads its
// JSON output: there is no Go port of its rule set.
package cfnlint

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
)

// Version is the cfn-lint release the project is tested with.
const Version = "1.51.0"

// Install is the command that installs it.
const Install = "pip install cfn-lint==" + Version

// Ignored lists the cfn-lint rules the project ignores, each with why.
// Everything else, warnings included, is a finding.
var Ignored = map[string]string{
	// CDK adds an explicit DependsOn on a function's role (and its default
	// policy) beside the GetAtt of the role ARN, so that the policy exists
	// before the function can be invoked; the duplicate edge is harmless.
	"W3005": "obsolete DependsOn: CDK's own explicit dependency of each function on its role",
}

// ErrNotInstalled says the cfn-lint command is not on PATH.
var ErrNotInstalled = errors.New("cfn-lint is not installed (" + Install + ")")

// Finding is one entry of `cfn-lint --format json`.
type Finding struct {
	Filename string
	Level    string // Error, Warning or Informational
	Message  string
	Rule     struct {
		ID string `json:"Id"`
	}
	Location struct{ Path []any }
}

// IsError says whether the finding is an error (not a warning or a note).
func (f Finding) IsError() bool { return f.Level == "Error" }

// String is the finding in one line, without the file name.
func (f Finding) String() string {
	return fmt.Sprintf("%s %s at %v: %s", f.Level, f.Rule.ID, f.Location.Path, f.Message)
}

// IgnoredRules is Ignored's rule ids, sorted.
func IgnoredRules() []string {
	rules := make([]string, 0, len(Ignored))
	for rule := range Ignored {
		rules = append(rules, rule)
	}
	slices.Sort(rules)
	return rules
}

// Run lints the template files with the Ignored rules off and returns
// every finding. It fails with ErrNotInstalled when cfn-lint is missing.
func Run(ctx context.Context, files ...string) ([]Finding, error) {
	lint, err := exec.LookPath("cfn-lint")
	if err != nil {
		return nil, ErrNotInstalled
	}
	args := append([]string{"--format", "json", "--ignore-checks=" + strings.Join(IgnoredRules(), ",")}, files...)
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, lint, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	// cfn-lint exits non-zero when it reports anything; its JSON says what.
	var exitErr *exec.ExitError
	if runErr != nil && !errors.As(runErr, &exitErr) {
		return nil, fmt.Errorf("run cfn-lint: %w\n%s", runErr, stderr.String())
	}
	var findings []Finding
	if err := json.Unmarshal(stdout.Bytes(), &findings); err != nil {
		return nil, fmt.Errorf("cfn-lint output is not JSON (%v):\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	if runErr != nil && len(findings) == 0 {
		return nil, fmt.Errorf("cfn-lint failed without findings: %w\n%s", runErr, stderr.String())
	}
	return findings, nil
}
