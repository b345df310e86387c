package review

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

//go:embed cfndiff.js
var cfnDiffScript string

// TemplateDiff is what the CDK CLI's diff engine says about two templates
// (cfndiff.js prints it).
type TemplateDiff struct {
	DifferenceCount       int
	PermissionsBroadened  bool
	PermissionsAnyChanges bool
	Resources             []ResourceDiff
	Outputs               []struct{ ID, Kind string }
	// Broadening lists the added IAM statements, one line each: what
	// PermissionsBroadened is about.
	Broadening []string
	// Security is the IAM and security group tables as `cdk diff` prints
	// them; Full is the whole `cdk diff`, both without colours.
	Security string
	Full     string
}

// ResourceDiff is one added, removed or modified resource.
type ResourceDiff struct {
	LogicalID  string
	OldType    string
	NewType    string
	Kind       string // added, removed or modified
	Impact     string // the engine's ResourceImpact: WILL_UPDATE, WILL_REPLACE, ...
	Properties []struct{ Name, Impact string }
	Other      []string
}

// Type is the resource's type (the new one if it changed).
func (r ResourceDiff) Type() string {
	if r.NewType != "" {
		return r.NewType
	}
	return r.OldType
}

// diffTemplates runs cfndiff.js with node in toolsDir, whose node_modules
// has @aws-cdk/cloudformation-diff (package.json pins it). paths maps
// logical IDs to construct paths, as the CLI gives the engine.
func diffTemplates(ctx context.Context, toolsDir, baseFile, headFile string, paths map[string]string) (*TemplateDiff, error) {
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		return nil, &ToolError{Tool: "node", Hint: "install Node.js 22 or 24", Err: err}
	}
	if _, err := os.Stat(filepath.Join(toolsDir, "node_modules", "@aws-cdk", "cloudformation-diff")); err != nil {
		return nil, &ToolError{Tool: "@aws-cdk/cloudformation-diff", Hint: "run npm ci in " + toolsDir + " (make review does)", Err: err}
	}
	input, err := os.CreateTemp("", "wsreview-diff-*.json")
	if err != nil {
		return nil, fmt.Errorf("diff input: %w", err)
	}
	defer os.Remove(input.Name())
	err = json.NewEncoder(input).Encode(map[string]any{"base": baseFile, "head": headFile, "paths": paths})
	if closeErr := input.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return nil, fmt.Errorf("write the diff input: %w", err)
	}
	cmd := exec.CommandContext(ctx, nodeBin, "-e", cfnDiffScript, input.Name())
	cmd.Dir = toolsDir
	// chalk colours nothing without a TTY; FORCE_COLOR=0 makes sure.
	cmd.Env = append(os.Environ(), "FORCE_COLOR=0")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("diff the templates with @aws-cdk/cloudformation-diff: %w\n%s", err, strings.TrimSpace(stderr.String()))
	}
	var d TemplateDiff
	if err := json.Unmarshal(stdout.Bytes(), &d); err != nil {
		return nil, fmt.Errorf("parse the template diff: %w", err)
	}
	return &d, nil
}

// ToolError says a tool the report needs is missing, and how to get it.
type ToolError struct {
	Tool string
	Hint string
	Err  error
}

func (e *ToolError) Error() string {
	return fmt.Sprintf("%s is missing (%s): %v", e.Tool, e.Hint, e.Err)
}

func (e *ToolError) Unwrap() error { return e.Err }
