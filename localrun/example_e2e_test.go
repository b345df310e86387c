package localrun

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/coder/websocket"

	"wsapi/internal/testutil"
	"wsapi/localrun/devissuer"
	"wsapi/localrun/internal/synthtest"
	"wsapi/stacks"
)

// TestExampleWhoami synthesizes examples/whoami as the CDK CLI runs an app
// (its cdk.json "app", `go run .`, in its directory, with CDK_OUTDIR and
// the context in CDK_CONTEXT_JSON: cdk.json's plus lambdaArchitecture for
// this machine), serves that assembly and calls the example's own route,
// and the construct's built-in one, over a real WebSocket.
func TestExampleWhoami(t *testing.T) {
	t.Parallel()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the example's app is run with go: %v", err)
	}
	example, err := filepath.Abs(filepath.Join("..", "examples", "whoami"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	outdir := filepath.Join(dir, "cdk.out")

	cdkContext, err := stacks.CDKJSONContext(filepath.Join(example, "cdk.json"))
	if err != nil {
		t.Fatal(err)
	}
	(*cdkContext)["lambdaArchitecture"] = synthtest.HostArchitecture()
	contextJSON, err := json.Marshal(*cdkContext)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	synth := exec.CommandContext(ctx, goBin, "run", ".")
	synth.Dir = example
	// Later entries win: an outer CDK_CONTEXT_JSON or CDK_OUTDIR is replaced.
	synth.Env = append(os.Environ(),
		"CDK_OUTDIR="+outdir,
		"CDK_CONTEXT_JSON="+string(contextJSON),
		"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=1",
	)
	started := time.Now()
	if out, err := synth.CombinedOutput(); err != nil {
		t.Fatalf("synthesize the example (go run . in %s): %v\n%s", example, err, out)
	}
	t.Logf("example synthesized in %s", time.Since(started).Round(100*time.Millisecond))

	logs := &testutil.LockedBuffer{}
	s, err := Start(context.Background(), Options{
		AssemblyDir: outdir,
		StateDir:    filepath.Join(dir, "state"),
		Logs:        logs,
	})
	if err != nil {
		t.Fatalf("start the local run on the example: %v\n%s", err, logs.String())
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("close the local run: %v", err)
		}
		if t.Failed() {
			t.Logf("local run logs:\n%s", logs.String())
		}
	})

	// Alice's token has a username and an email other than her subject:
	// principalId must be the subject, as the authorizer maps it.
	tok, err := s.MintToken(devissuer.Claims{Subject: "whoami-alice", Username: "Alice", Email: "alice@example.com", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	status, conn := dialToken(t, s, "?token="+tok)
	if status != 101 {
		t.Fatalf("connect: HTTP %d\n%s", status, logs.String())
	}
	alice := &client{t: t, sub: "whoami-alice", conn: conn, frames: make(chan []byte, 64)}
	go alice.readLoop()
	t.Cleanup(func() { _ = conn.Close(websocket.StatusNormalClosure, "") })

	whoami := func(c *client) map[string]any {
		t.Helper()
		c.send(map[string]any{"action": "whoami"})
		r := c.read()
		if r["type"] != "whoami" {
			t.Fatalf("%s: whoami reply %v", c.sub, r)
		}
		return r
	}

	first := whoami(alice)
	connID, _ := first["connectionId"].(string)
	if first["principalId"] != "whoami-alice" || first["username"] != "Alice" || first["email"] != "alice@example.com" ||
		connID == "" || first["requestId"] == "" {
		t.Errorf("whoami reply %v, want principalId whoami-alice, username Alice, email alice@example.com, a connectionId and a requestId", first)
	}
	// The connect function stored the same connection under the same principal.
	if got, ok := rows(t, s)[connID]; !ok || got != "whoami-alice" {
		t.Errorf("connections table: connection %q has principal %q (found %v), want whoami-alice", connID, got, ok)
	}
	if again := whoami(alice); again["connectionId"] != connID || again["requestId"] == first["requestId"] {
		t.Errorf("second whoami %v: want connectionId %q and a new requestId", again, connID)
	}

	// Input the route refuses: an error frame, and the connection stays.
	for _, bad := range []string{`{"action":"whoami","extra":1}`, `{"action":"whoami","message":"hi"}`} {
		alice.send(bad)
		if r := alice.read(); r["type"] != "error" || r["code"] != "invalid_request" {
			t.Errorf("whoami with %s: reply %v, want an invalid_request error", bad, r)
		}
	}

	// A second user: their own principal and connection.
	bob := dial(t, s, "whoami-bob")
	if r := whoami(bob); r["principalId"] != "whoami-bob" || r["connectionId"] == "" || r["connectionId"] == connID {
		t.Errorf("bob's whoami %v, want principalId whoami-bob on another connection than %q", r, connID)
	}

	// The construct's built-in route still works beside the example's, and
	// so does its fan-out: a broadcast is queued, reaches bob, and alice
	// gets the delivery report.
	id := alice.broadcast("hi from whoami")
	bob.message(id, "whoami-alice", "hi from whoami")
	alice.delivery(id, 1, 0, 0)
	alice.quiet(200 * time.Millisecond)
	bob.quiet(100 * time.Millisecond)
}
