package review

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Synthesize runs the CDK app in dir as the CDK CLI does for cdk.json's
// "app" (`go run .`): the cloud assembly goes to outdir, the context is
// cdk.json's, and neither CDK_DEFAULT_ACCOUNT nor CDK_DEFAULT_REGION is
// set, so both sides of a review are the same environment-agnostic
// templates whoever runs it. The app's output goes to progress.
func Synthesize(ctx context.Context, dir, outdir string, progress io.Writer) error {
	contextJSON, err := cdkContext(filepath.Join(dir, "cdk.json"))
	if err != nil {
		return err
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("synthesize %s: the app runs with go: %w", dir, err)
	}
	cmd := exec.CommandContext(ctx, goBin, "run", ".")
	cmd.Dir = dir
	cmd.Env = append(synthEnv(os.Environ()),
		"CDK_OUTDIR="+outdir,
		"CDK_CONTEXT_JSON="+string(contextJSON),
		"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20",
	)
	var tail bytes.Buffer
	cmd.Stdout = io.MultiWriter(progress, &tail)
	cmd.Stderr = cmd.Stdout
	if err := cmd.Run(); err != nil {
		if validationFailed(outdir) {
			// The assembly is complete; only its error annotations (an
			// unsuppressed cdk-nag error, say) failed the synth, and the
			// report shows them.
			fmt.Fprintln(progress, "wsreview: the app's validation failed (error annotations); the report lists them")
			return nil
		}
		return fmt.Errorf("synthesize %s (go run . with CDK_OUTDIR=%s): %w\n%s", dir, outdir, err, lastLines(tail.String(), 30))
	}
	return nil
}

// validationFailed says whether a synth wrote its whole assembly and then
// failed its validation: with the feature flag
// @aws-cdk/core:annotationsInValidationReport an error annotation fails
// app.Synth after the assembly is written, with a failing report in
// validation-report.json.
func validationFailed(outdir string) bool {
	if _, err := os.Stat(filepath.Join(outdir, "manifest.json")); err != nil {
		return false
	}
	var report struct {
		PluginReports []struct{ Conclusion string }
	}
	if readJSON(filepath.Join(outdir, "validation-report.json"), &report) != nil {
		return false
	}
	for _, r := range report.PluginReports {
		if r.Conclusion == "failure" {
			return true
		}
	}
	return false
}

// synthEnv is the environment without what would make the synth depend on
// who runs it: the CLI's account and region, and an outer CDK_CONTEXT_JSON
// or CDK_OUTDIR.
func synthEnv(environ []string) []string {
	var env []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION", "CDK_CONTEXT_JSON", "CDK_OUTDIR":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// cdkContext is the "context" object of a cdk.json, as JSON.
func cdkContext(file string) ([]byte, error) {
	var cdk struct {
		Context json.RawMessage `json:"context"`
	}
	if err := readJSON(file, &cdk); err != nil {
		return nil, err
	}
	if len(cdk.Context) == 0 {
		return []byte("{}"), nil
	}
	return cdk.Context, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// SynthesizeRef synthesizes a git ref of the repository in repo: it checks
// the ref out in a temporary worktree (detached, so no branch is touched),
// runs the app there and removes the worktree again, also on failure.
func SynthesizeRef(ctx context.Context, repo, ref, outdir string, progress io.Writer) (err error) {
	commit, err := git(ctx, repo, "rev-parse", "--verify", "--quiet", ref+"^{commit}")
	if err != nil {
		// git says nothing with --quiet; its exit status is the answer.
		return fmt.Errorf("base %q is not a commit of the git repository in %s (try a branch, a tag, HEAD~1 or a commit id)", ref, repo)
	}
	tmp, err := os.MkdirTemp("", "wsreview-base-")
	if err != nil {
		return fmt.Errorf("make the base worktree's directory: %w", err)
	}
	worktree := filepath.Join(tmp, "tree")
	defer func() {
		// A detached worktree has nothing to lose; --force also removes one
		// the app wrote into.
		_, rmErr := git(context.WithoutCancel(ctx), repo, "worktree", "remove", "--force", worktree)
		if rmErr != nil && err == nil {
			err = fmt.Errorf("remove the base worktree: %w", rmErr)
		}
		if rmAllErr := os.RemoveAll(tmp); rmAllErr != nil && err == nil {
			err = rmAllErr
		}
	}()
	if _, err := git(ctx, repo, "worktree", "add", "--detach", worktree, commit); err != nil {
		return fmt.Errorf("check out %s in a temporary worktree: %w", ref, err)
	}
	// The app lives where the repository's module root is: the same
	// relative directory as in the working tree.
	rel, err := git(ctx, repo, "rev-parse", "--show-prefix")
	if err != nil {
		return err
	}
	return Synthesize(ctx, filepath.Join(worktree, rel), outdir, progress)
}

// git runs one git command in dir and returns its trimmed stdout.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}
