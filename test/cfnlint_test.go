package test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"wsapi/internal/cfnlint"
)

// TestCfnLint runs cfn-lint on every stack variant the tests synthesize:
// none may have an error or a warning outside cfnlint.Ignored. cfn-lint ships
// in the machine image (pip); without it the test fails in CI and skips
// elsewhere, naming what to install.
func TestCfnLint(t *testing.T) {
	lintTemplates(t, variants(t))
}

// lintTemplates runs cfn-lint once on the stacks' templates, by name, and
// fails t for every finding. Without cfn-lint it fails in CI and skips
// elsewhere, naming what to install.
func lintTemplates(t *testing.T, stacks map[string]*synthesized) {
	t.Helper()
	if _, err := exec.LookPath("cfn-lint"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("cfn-lint is not installed; CI needs it (%s)", cfnlint.Install)
		}
		t.Skipf("cfn-lint is not installed (%s); skipping the CloudFormation lint", cfnlint.Install)
	}
	dir := t.TempDir()
	var files []string
	for name, s := range stacks {
		file := filepath.Join(dir, name+".template.json")
		if err := os.WriteFile(file, s.raw, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, file)
	}
	findings, err := cfnlint.Run(context.Background(), files...)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range findings {
		t.Errorf("%s: %s %s at %v: %s", filepath.Base(f.Filename), f.Level, f.Rule.ID, f.Location.Path, f.Message)
	}
	t.Logf("cfn-lint: %d templates, %d findings (ignored: %v)", len(files), len(findings), cfnlint.IgnoredRules())
}
