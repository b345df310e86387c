package review

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// historyCase is one change committed on top of the base commit, and what
// the report must say about it.
type historyCase struct {
	name string
	// edits maps a file to its anchor and what replaces it; an anchor that
	// is not found fails the test, so a refactor updates it here.
	edits []edit
	// noChange compares the base with itself (no synth of its own).
	noChange bool
	exit     int
	contains []string
	absent   []string
	check    func(t *testing.T, r *Report)
}

type edit struct{ file, anchor, replacement string }

// TestReviewHistory builds a git repository from the project's files,
// synthesizes its first commit once, and reviews one commit on top of it
// per case, as `make review BASE=<ref>` does for a branch.
func TestReviewHistory(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the history test synthesizes the app five times")
	}
	root := moduleRoot(t)
	requireTools(t, root)
	repo := newHistoryRepo(t, root)

	// The cases run in parallel after this function returns: cancel when
	// they are done, not before.
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	t.Cleanup(cancel)
	baseOut := filepath.Join(t.TempDir(), "base.out")
	started := time.Now()
	var log bytes.Buffer
	if err := SynthesizeRef(ctx, repo, "base", baseOut, &log); err != nil {
		t.Fatalf("synthesize the base: %v", err)
	}
	t.Logf("base synthesized in %s (worktree of tag base)", time.Since(started).Round(100*time.Millisecond))
	if out, _ := git(ctx, repo, "worktree", "list"); strings.Count(out, "\n") != 0 {
		t.Errorf("the base worktree was not removed: %s", out)
	}

	const table = "websocketapi/websocketapi.go"
	cases := []historyCase{
		{
			name: "broaden one IAM statement",
			edits: []edit{{table, `b.connect.allow([]string{"dynamodb:PutItem"}, tableARN)`,
				`b.connect.allow([]string{"dynamodb:PutItem", "dynamodb:GetItem"}, tableARN)`}},
			exit: 0,
			contains: []string{
				"**No blockers.**",
				"⚠️ **Permissions broadened.**",
				"dynamodb:GetItem, dynamodb:PutItem on ${Default/Connections.Arn} for AWS:${Default/ConnectRole}",
				"IAM Statement Changes",
				"| modified | `Default/ConnectRole/DefaultPolicy` `ConnectRoleDefaultPolicy",
				"No function's code changed.",
			},
			check: func(t *testing.T, r *Report) {
				if n := len(r.Stacks[0].Resources); n != 1 {
					t.Errorf("%d resources changed, want the connect role's policy only", n)
				}
			},
		},
		{
			name: "change one Lambda's code",
			edits: []edit{{"lambdas/internal/disconnect/disconnect.go", "package disconnect\n",
				"package disconnect\n\n// The review test changes this function's code, and only this one's.\n"}},
			exit:     0,
			contains: []string{"**No blockers.**", "No IAM statement or security group changes."},
			check: func(t *testing.T, r *Report) {
				code := r.Stacks[0].Code
				if len(code) != 1 || code[0].Path != "Default/DisconnectFunction" || code[0].Kind != "changed" {
					t.Errorf("code changes %+v, want exactly Default/DisconnectFunction changed", code)
				}
			},
		},
		{
			name:  "rename the table's construct id",
			edits: []edit{{table, `jsii.String("Connections"), &awsdynamodb.TableProps{`, `jsii.String("ConnectionsTable"), &awsdynamodb.TableProps{`}},
			exit:  1,
			contains: []string{
				"**⛔ 1 blocker.**",
				"## Blockers",
				"⛔ **BLOCKER (stateful)**",
				"AWS::DynamoDB::Table `Connections827CEF2F`",
				"**If this is intended:**",
				"keep the logical ID `Connections827CEF2F`",
			},
			check: func(t *testing.T, r *Report) {
				bl := r.Blockers()
				if len(bl) != 1 || !strings.Contains(bl[0].What, "Connections827CEF2F") {
					t.Errorf("blockers %+v, want the table's only", bl)
				}
			},
		},
		{
			name: "add a suppressed cdk-nag finding",
			edits: []edit{
				{table, `b.disconnect.allow([]string{"dynamodb:DeleteItem"}, tableARN)`,
					`b.disconnect.allow([]string{"dynamodb:DeleteItem"}, tableARN)
	b.disconnect.allow([]string{"dynamodb:Get*"}, tableARN)`},
				{"websocketapi/nag.go", `	for _, f := range []*function{b.message, b.fanOut.fn} {`,
					`	suppress(policy(b.disconnect), suppression("AwsSolutions-IAM5", "The review test's wildcard action, suppressed on this policy with a reason."))
	for _, f := range []*function{b.message, b.fanOut.fn} {`},
			},
			exit: 0,
			contains: []string{
				"**No blockers.**",
				"New suppressions, with their reasons (review them)",
				"on `WebSocketApi/Default/DisconnectRole/DefaultPolicy/Resource`: The review test's wildcard action",
				"⚠️ **Permissions broadened.**",
			},
			absent: []string{"New unsuppressed findings"},
		},
		{
			name:     "no change",
			noChange: true,
			exit:     0,
			contains: []string{"**No blockers.** **No changes**", "No function's code changed.", "No change in findings (0 unsuppressed).",
				"## cfn-lint\n\nNo errors or warnings."},
			absent: []string{"<details>"},
		},
	}

	// Each case is a branch of its own in a worktree of its own, so the
	// synths run side by side; they share the base's assembly.
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			o := Options{Repo: repo, Base: "base", BaseAssembly: baseOut, ToolsDir: root}
			if c.noChange {
				o.HeadAssembly = baseOut
			} else {
				o.Repo = commitCase(ctx, t, repo, c)
			}
			var progress bytes.Buffer
			o.Progress = &progress
			started := time.Now()
			r, err := Run(ctx, o)
			if err != nil {
				t.Fatalf("review: %v\n%s", err, lastLines(progress.String(), 40))
			}
			t.Logf("reviewed in %s", time.Since(started).Round(100*time.Millisecond))
			md := r.Markdown()
			if !strings.HasPrefix(md, Marker+"\n") {
				t.Errorf("the report does not start with %s", Marker)
			}
			for _, section := range []string{"## Resources", "## IAM and security", "## Lambda code", "## cdk-nag (AwsSolutions)", "## cfn-lint"} {
				if !strings.Contains(md, "\n"+section+"\n") {
					t.Errorf("no section %q", section)
				}
			}
			for _, want := range c.contains {
				if !strings.Contains(md, want) {
					t.Errorf("the report lacks %q", want)
				}
			}
			for _, unwanted := range c.absent {
				if strings.Contains(md, unwanted) {
					t.Errorf("the report has %q", unwanted)
				}
			}
			if got := r.ExitCode(); got != c.exit {
				t.Errorf("exit status %d, want %d", got, c.exit)
			}
			if c.check != nil {
				c.check(t, r)
			}
			if t.Failed() {
				t.Logf("report:\n%s", md)
			}
		})
	}
}

// commitCase commits the case's edits on a branch from base, in a worktree
// of its own, and returns the worktree.
func commitCase(ctx context.Context, t *testing.T, repo string, c historyCase) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tree")
	branch := "case-" + strings.ReplaceAll(c.name, " ", "-")
	if _, err := git(ctx, repo, "worktree", "add", "-b", branch, dir, "base"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = git(context.Background(), repo, "worktree", "remove", "--force", dir) })
	for _, e := range c.edits {
		file := filepath.Join(dir, e.file)
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if n := bytes.Count(src, []byte(e.anchor)); n != 1 {
			t.Fatalf("%s: the anchor %q is there %d times, want once; update the case to the code", e.file, e.anchor, n)
		}
		if err := os.WriteFile(file, bytes.Replace(src, []byte(e.anchor), []byte(e.replacement), 1), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := git(ctx, dir, "commit", "-q", "-a", "-m", c.name); err != nil {
		t.Fatal(err)
	}
	return dir
}

// newHistoryRepo copies the project's files (tracked, and untracked ones
// that are not ignored: what a build sees) into a new repository and
// commits them, tagged base.
func newHistoryRepo(t *testing.T, root string) string {
	t.Helper()
	ctx := context.Background()
	list, err := git(ctx, root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	if err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(t.TempDir(), "repo")
	for _, name := range strings.Split(list, "\x00") {
		if name == "" || strings.HasPrefix(name, "node_modules/") || strings.HasPrefix(name, "cdk.") && strings.Contains(name, ".out/") {
			continue
		}
		if err := copyFile(filepath.Join(root, name), filepath.Join(repo, name)); errors.Is(err, fs.ErrNotExist) {
			continue // deleted in the working tree
		} else if err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"config", "user.email", "review-test@example.com"},
		{"config", "user.name", "review test"},
		{"add", "-A"},
		{"commit", "-q", "-m", "base"},
		{"tag", "base"},
	} {
		if _, err := git(ctx, repo, args...); err != nil {
			t.Fatal(err)
		}
	}
	return repo
}

func copyFile(from, to string) error {
	info, err := os.Lstat(from)
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return nil // symlinks and submodules: none in this project
	}
	src, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	return os.WriteFile(to, src, info.Mode().Perm())
}

// moduleRoot is the wsapi module's directory, above the test's.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if mod, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.HasPrefix(mod, []byte("module wsapi\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no wsapi go.mod above the test's directory")
		}
		dir = parent
	}
}

// requireTools skips the test without git, node, the diff engine's
// node_modules or cfn-lint, naming what to install; in CI it fails.
func requireTools(t *testing.T, root string) {
	t.Helper()
	var missing []string
	for _, bin := range []string{"git", "go", "node", "cfn-lint"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, bin)
		}
	}
	if err := checkTools(root); err != nil {
		missing = append(missing, err.Error())
	}
	if len(missing) == 0 {
		return
	}
	msg := "the review history test needs: " + strings.Join(missing, "; ") + " (npm ci, pip install cfn-lint==1.51.0)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}
