// Package review writes the review report of `make review`: what a change
// to the app does to the deployed stack. It synthesizes the base (a git
// ref, in a temporary worktree) and the working tree, then compares the two
// cloud assemblies: resources with their replacement impact, IAM and
// security changes, Lambda code, cdk-nag findings and cfn-lint.
//
// Resources and IAM come from @aws-cdk/cloudformation-diff, the engine the
// CDK CLI's `cdk diff` runs (pinned in package.json, called by cfndiff.js),
// so the report and the CLI agree on what replaces what and on what
// broadens permissions; it works offline on two templates. Everything else
// is read here with the standard library: manifest.json, the templates, the
// assembly's metadata (cdk-nag's unsuppressed findings are annotations
// there) and cdk-nag's CSV report (suppressed findings); cfn-lint runs
// through package cfnlint with the tests' ignore list.
package review

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"wsapi/internal/cfnlint"
)

// Options says what to compare.
type Options struct {
	// Repo is the directory of the app in a git working tree (the module
	// root); the head side is this tree as it is, uncommitted changes
	// included.
	Repo string
	// Base is the git ref to compare against; BaseAssembly, when set, is an
	// already synthesized base (Base is then only its label).
	Base         string
	BaseAssembly string
	// HeadAssembly, when set, is an already synthesized head.
	HeadAssembly string
	// ToolsDir holds node_modules with the diff engine; Repo when empty.
	ToolsDir string
	// Progress receives the synths' output and progress lines.
	Progress io.Writer
}

// Run synthesizes what Options do not give, compares and returns the
// report. An error means there is no report (a bad ref, a failed synth, a
// missing tool); blockers are in the report.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.ToolsDir == "" {
		o.ToolsDir = o.Repo
	}
	if o.Base == "" && o.BaseAssembly == "" {
		return nil, errors.New("no base: give a git ref to compare against (--base)")
	}
	// Tools first: a missing one should not cost two synths.
	if err := checkTools(o.ToolsDir); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "wsreview-")
	if err != nil {
		return nil, fmt.Errorf("make a temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)

	baseDir := o.BaseAssembly
	if baseDir == "" {
		baseDir = filepath.Join(tmp, "base.out")
		fmt.Fprintf(o.Progress, "wsreview: synthesizing the base (%s) in a temporary worktree\n", o.Base)
		if err := SynthesizeRef(ctx, o.Repo, o.Base, baseDir, o.Progress); err != nil {
			return nil, err
		}
	}
	headDir := o.HeadAssembly
	if headDir == "" {
		headDir = filepath.Join(tmp, "head.out")
		fmt.Fprintln(o.Progress, "wsreview: synthesizing the working tree")
		if err := Synthesize(ctx, o.Repo, headDir, o.Progress); err != nil {
			return nil, err
		}
	}
	base, err := LoadAssembly(baseDir)
	if err != nil {
		return nil, fmt.Errorf("base: %w", err)
	}
	head, err := LoadAssembly(headDir)
	if err != nil {
		return nil, fmt.Errorf("head: %w", err)
	}
	fmt.Fprintln(o.Progress, "wsreview: comparing")
	r, err := Compare(ctx, base, head, o.ToolsDir)
	if err != nil {
		return nil, err
	}
	r.Base = o.Base
	return r, nil
}

// checkTools fails early, with what to install, when a tool is missing.
func checkTools(toolsDir string) error {
	if _, err := exec.LookPath("cfn-lint"); err != nil {
		return &ToolError{Tool: "cfn-lint", Hint: cfnlint.Install, Err: err}
	}
	if _, err := os.Stat(filepath.Join(toolsDir, "node_modules", "@aws-cdk", "cloudformation-diff")); err != nil {
		return &ToolError{Tool: "@aws-cdk/cloudformation-diff", Hint: "run npm ci in " + toolsDir + " (make review does)", Err: err}
	}
	return nil
}

// Compare compares two loaded assemblies, stack by stack, and lints head.
func Compare(ctx context.Context, base, head *Assembly, toolsDir string) (*Report, error) {
	pairs, err := PairStacks(base, head)
	if err != nil {
		return nil, err
	}
	r := &Report{}
	for _, p := range pairs {
		s, err := compareStack(ctx, p[0], p[1], toolsDir)
		if err != nil {
			return nil, fmt.Errorf("stack %s: %w", p[1].ID, err)
		}
		r.Stacks = append(r.Stacks, s)
	}
	return r, nil
}

func compareStack(ctx context.Context, base, head *Stack, toolsDir string) (StackReport, error) {
	paths := map[string]string{}
	for _, s := range []*Stack{base, head} { // head's path wins
		for id, p := range s.LogicalPaths {
			paths[id] = p
		}
	}
	diff, err := diffTemplates(ctx, toolsDir, base.TemplateFile, head.TemplateFile, paths)
	if err != nil {
		return StackReport{}, err
	}
	lint, err := cfnlint.Run(ctx, head.TemplateFile)
	if errors.Is(err, cfnlint.ErrNotInstalled) {
		return StackReport{}, &ToolError{Tool: "cfn-lint", Hint: cfnlint.Install, Err: err}
	}
	if err != nil {
		return StackReport{}, err
	}
	s := StackReport{
		ID:   head.ID,
		Diff: *diff,
		Code: compareCode(base, head),
		Nag:  compareNag(base, head),
		Lint: lint,
	}
	s.Resources = resourceChanges(diff, base, head)
	for _, a := range head.Annotations {
		if a.Level == "error" && !strings.HasPrefix(a.Data, "AwsSolutions-") {
			s.Errors = append(s.Errors, a)
		}
	}
	return s, nil
}

// StatefulTypes are the resource types whose replacement or removal loses
// data (or, for a user pool, every user and their passwords): the
// connections table, the user pool, and log groups (the API's access logs
// and each function's logs).
var StatefulTypes = []string{
	"AWS::DynamoDB::Table",
	"AWS::DynamoDB::GlobalTable",
	"AWS::Cognito::UserPool",
	"AWS::Logs::LogGroup",
}

// IsStateful says whether a resource type is in StatefulTypes.
func IsStateful(resourceType string) bool { return slices.Contains(StatefulTypes, resourceType) }
