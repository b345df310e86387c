package devpage_test

// TestBrowserChat drives the dev page in a real headless Chromium: the app
// is synthesized with functions built for this machine (as `make dev` and
// localrun's end-to-end tests do), localrun.Start serves it on free
// loopback ports, and testdata/chat.mjs (Node, with npm's playwright-core
// driving Debian's chromium) chats as alice, bob and carol in three browser
// contexts: a broadcast (its queued ack, its copies and its delivery
// report, matched by message id), a direct message and its ack, error
// frames of invalid input, a context that closes, a Disconnect and its
// close code; alice's connection is routed so that every message and
// delivery report reaches her page twice, which must show each once. The script
// prints "ok - ..." per check and "PASS"; this test checks its exit status
// and output, and keeps its screenshots in a temporary directory (printed
// with -v; DEVPAGE_SCREENSHOTS=dir keeps them in dir instead).
//
// It needs node, the repository's node_modules/playwright-core (npm ci) and
// chromium (apt-get install chromium; CHROMIUM=path overrides
// /usr/bin/chromium). When one is missing the test fails in CI (CI set)
// and skips elsewhere, naming what to install. -short skips it.

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/jsii-runtime-go"

	"wsapi/internal/testutil"
	"wsapi/localrun"
	"wsapi/localrun/internal/synthtest"
	"wsapi/stacks"
)

func TestMain(m *testing.M) {
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

// browserTools returns node and chromium, or why they cannot run.
func browserTools(t *testing.T) (node, chromium string) {
	t.Helper()
	var missing []string
	node, err := exec.LookPath("node")
	if err != nil {
		missing = append(missing, "node (Node.js 20 or later)")
	}
	if _, err := os.Stat(filepath.Join("..", "..", "node_modules", "playwright-core", "package.json")); err != nil {
		missing = append(missing, "playwright-core (npm ci, or make deps)")
	}
	chromium = os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(chromium); err != nil {
		missing = append(missing, "chromium (apt-get install chromium, or CHROMIUM=/path/to/chromium)")
	}
	if len(missing) > 0 {
		msg := "the browser test needs " + strings.Join(missing, ", ")
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return node, chromium
}

func TestBrowserChat(t *testing.T) {
	if testing.Short() {
		t.Skip("browser end-to-end: skipped with -short")
	}
	node, chromium := browserTools(t)
	start := time.Now()

	dir := t.TempDir()
	if err := synthtest.SynthesizeForHost(filepath.Join(dir, "cdk.out"), filepath.Join("..", ".."), stacks.WebSocketStackProps{}); err != nil {
		t.Fatal(err)
	}
	logs := &testutil.LockedBuffer{}
	srv, err := localrun.Start(context.Background(), localrun.Options{
		AssemblyDir: filepath.Join(dir, "cdk.out"),
		StateDir:    filepath.Join(dir, "state"),
		Logs:        logs,
		// A closed tab may leave without a close frame: its $disconnect
		// comes late, as API Gateway's may.
		DisconnectDelay: 2 * time.Second,
	})
	if err != nil {
		t.Fatalf("start the local run: %v\n%s", err, logs.String())
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Close(ctx)
	})
	ws, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	pageURL := "http://" + ws.Host + "/"
	t.Logf("local run up in %s: %s", time.Since(start).Round(time.Millisecond), pageURL)

	shots := os.Getenv("DEVPAGE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	script, err := filepath.Abs(filepath.Join("testdata", "chat.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, node, script, pageURL, shots)
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
	browserStart := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("chat.mjs (%s):\n%s", time.Since(browserStart).Round(time.Millisecond), out)
	if err != nil {
		t.Fatalf("chat.mjs: %v\nlocal run logs:\n%s", err, logs.String())
	}
	text := string(out)
	for _, want := range []string{
		"ok - a bad name shows the token endpoint's invalid_name error",
		"ok - alice's broadcast reached bob and carol as text",
		"ok - bob's direct message reached only alice",
		"ok - carol's invalid frames show error frames",
		"ok - carol's context closed; alice's next broadcast reached bob only",
		"ok - bob's Disconnect shows close code 1000",
		"ok - alice's page dropped the ",
		"ok - no console errors",
		"\nPASS\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("chat.mjs printed no %q", strings.TrimSpace(want))
		}
	}
	if strings.Contains(text, "not ok") {
		t.Error("chat.mjs reported a failure")
	}
	for _, f := range []string{"alice.png", "bob.png", "carol.png"} {
		if fi, err := os.Stat(filepath.Join(shots, f)); err != nil || fi.Size() == 0 {
			t.Errorf("screenshot %s: %v", f, err)
		}
	}
	t.Logf("screenshots in %s; whole test %s", shots, time.Since(start).Round(time.Millisecond))
}
