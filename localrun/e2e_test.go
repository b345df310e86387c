package localrun

// End-to-end tests: the app is synthesized (as `make dev` does, for this
// machine's architecture), its real Lambda binaries run behind the local
// gateway, and real WebSocket clients talk to it over 127.0.0.1.

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/jsii-runtime-go"
	"github.com/coder/websocket"
	minidyn "github.com/truora/minidyn/server"

	"wsapi/internal/testutil"
	"wsapi/localrun/assembly"
	"wsapi/localrun/devissuer"
	"wsapi/localrun/gateway"
	"wsapi/localrun/internal/synthtest"
	"wsapi/stacks"
	"wsapi/websocketapi"
)

var (
	e2eOnce     sync.Once
	e2eServer   *Server
	e2eDir      string // temporary; holds the assembly and the issuer's state
	e2eAssembly string // the synthesized assembly, for runs of their own
	e2eErr      error
	e2eLogs     = &testutil.LockedBuffer{}
)

// e2e starts the local run once for all end-to-end tests.
func e2e(t *testing.T) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	e2eOnce.Do(func() {
		dir, err := os.MkdirTemp("", "wsapi-e2e-")
		if err != nil {
			e2eErr = err
			return
		}
		e2eDir = dir
		e2eAssembly = filepath.Join(dir, "cdk.out")
		// The load test sends 1,000 messages at once; the stage's default
		// throttling (enforced by the gateway) would refuse most of them.
		props := stacks.WebSocketStackProps{WebSocketAPIProps: websocketapi.WebSocketAPIProps{ThrottlingRateLimit: 10000, ThrottlingBurstLimit: 5000}}
		if e2eErr = synthtest.SynthesizeForHost(e2eAssembly, "..", props); e2eErr != nil {
			return
		}
		limits := gateway.DefaultLimits
		e2eServer, e2eErr = Start(context.Background(), Options{
			AssemblyDir:     filepath.Join(dir, "cdk.out"),
			StateDir:        filepath.Join(dir, "state"),
			Logs:            e2eLogs,
			Limits:          limits,
			DisconnectDelay: 2 * time.Second,
			MaxInstances:    8,
		})
	})
	if e2eErr != nil {
		t.Fatalf("start the local run: %v\n%s", e2eErr, e2eLogs.String())
	}
	return e2eServer
}

func TestMain(m *testing.M) {
	code := m.Run()
	if e2eServer != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = e2eServer.Close(ctx)
		cancel()
	}
	jsii.Close()
	if e2eDir != "" {
		_ = os.RemoveAll(e2eDir)
	}
	os.Exit(code)
}

// client is one WebSocket connection of a test user. One goroutine reads
// it (coder/websocket closes a connection whose Read is cancelled), so
// read and quiet can wait with timeouts.
type client struct {
	t      *testing.T
	sub    string
	conn   *websocket.Conn
	frames chan []byte
	err    error // the read error, once frames is closed
}

func (c *client) readLoop() {
	defer close(c.frames)
	for {
		_, b, err := c.conn.Read(context.Background())
		if err != nil {
			c.err = err
			return
		}
		c.frames <- b
	}
}

func dial(t *testing.T, s *Server, sub string) *client {
	t.Helper()
	tok, err := s.Token(sub, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	status, c := dialToken(t, s, "?token="+tok)
	if status != 101 {
		t.Fatalf("connect %s: HTTP %d\n%s", sub, status, e2eLogs.String())
	}
	cl := &client{t: t, sub: sub, conn: c, frames: make(chan []byte, 4096)}
	go cl.readLoop()
	// A clean close runs $disconnect at once, so no row outlives its test.
	t.Cleanup(func() { _ = c.Close(websocket.StatusNormalClosure, "") })
	return cl
}

func dialToken(t *testing.T, s *Server, query string) (int, *websocket.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, s.URL+query, nil)
	if err != nil {
		if resp == nil {
			t.Fatalf("dial: %v", err)
		}
		return resp.StatusCode, nil
	}
	c.SetReadLimit(256 * 1024)
	return 101, c
}

func (c *client) send(v any) {
	c.t.Helper()
	var b []byte
	if s, ok := v.(string); ok {
		b = []byte(s)
	} else {
		b, _ = json.Marshal(v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, b); err != nil {
		c.t.Fatalf("%s send: %v", c.sub, err)
	}
}

// sendFragmented sends one message in frames of at most 16 KB, as API
// Gateway's 32 KB frame limit asks of clients with larger messages.
func (c *client) sendFragmented(v any) {
	c.t.Helper()
	b, ok := v.([]byte)
	if s, isString := v.(string); isString {
		b, ok = []byte(s), true
	}
	if !ok {
		b, _ = json.Marshal(v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, err := c.conn.Writer(ctx, websocket.MessageText)
	if err != nil {
		c.t.Fatal(err)
	}
	for len(b) > 0 {
		n := min(len(b), 16*1024)
		if _, err := w.Write(b[:n]); err != nil {
			c.t.Fatal(err)
		}
		b = b[n:]
	}
	if err := w.Close(); err != nil {
		c.t.Fatal(err)
	}
}

// idle waits until no connection of an earlier test is left in the table.
func idle(t *testing.T, s *Server) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, func() bool { return len(rows(t, s)) == 0 }, "table empty")
}

func (c *client) read() map[string]any {
	c.t.Helper()
	select {
	case b, ok := <-c.frames:
		if !ok {
			c.t.Fatalf("%s read: %v\n%s", c.sub, c.err, e2eLogs.String())
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			c.t.Fatalf("%s got %q: %v", c.sub, b, err)
		}
		return m
	case <-time.After(20 * time.Second):
		c.t.Fatalf("%s: nothing received in 20 s\n%s", c.sub, e2eLogs.String())
	}
	return nil
}

// quiet asserts nothing arrives for a moment.
func (c *client) quiet(d time.Duration) {
	c.t.Helper()
	select {
	case b, ok := <-c.frames:
		if ok {
			c.t.Errorf("%s got an unexpected frame %s", c.sub, b)
		}
	case <-time.After(d):
	}
}

// rows returns the connections table as connectionId → principalId.
func rows(t *testing.T, s *Server) map[string]string {
	t.Helper()
	var table string
	for _, name := range s.TableNames {
		table = name
	}
	out, err := DynamoDBClient(s.DynamoDB).Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, item := range out.Items {
		id := item["connectionId"].(*types.AttributeValueMemberS).Value
		m[id] = item["principalId"].(*types.AttributeValueMemberS).Value
	}
	return m
}

func TestE2EHandshake(t *testing.T) {
	s := e2e(t)
	other, err := devissuer.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := other.Token(s.IssuerURL, devissuer.Claims{Subject: "mallory", Audience: s.Audience})
	expired, _ := s.MintToken(devissuer.Claims{Subject: "alice", NotBefore: time.Now().Add(-2 * time.Hour), TTL: time.Hour})
	wrongAudience, _ := s.MintToken(devissuer.Claims{Subject: "alice", Audience: "someone-else"})
	cases := []struct {
		name, query string
		want        int
	}{
		{"no token", "", 401},
		{"empty token", "?token=", 401},
		{"garbage", "?token=not.a.jwt", 401},
		{"forged (another key)", "?token=" + forged, 401},
		{"expired", "?token=" + expired, 401},
		{"wrong audience", "?token=" + wrongAudience, 401},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got, conn := dialToken(t, s, c.query); got != c.want {
				if conn != nil {
					_ = conn.CloseNow()
				}
				t.Errorf("HTTP %d, want %d", got, c.want)
			}
		})
	}
	// $connect is a Lambda proxy integration: the connect function's
	// statusCode 200 accepts, and it has stored the connection by then.
	t.Run("valid token: connected and stored", func(t *testing.T) {
		before := rows(t, s)
		c := dial(t, s, "valid-user")
		var mine []string
		testutil.Eventually(t, 10*time.Second, func() bool {
			mine = mine[:0]
			for id, p := range rows(t, s) {
				if _, old := before[id]; !old && p == "valid-user" {
					mine = append(mine, id)
				}
			}
			return len(mine) == 1
		}, "row stored")
		_ = c.conn.Close(websocket.StatusNormalClosure, "bye")
		testutil.Eventually(t, 10*time.Second, func() bool { _, ok := rows(t, s)[mine[0]]; return !ok }, "row removed on close")
	})
}

func TestE2EMessages(t *testing.T) {
	s := e2e(t)
	idle(t, s)
	a, b, c := dial(t, s, "msg-a"), dial(t, s, "msg-b"), dial(t, s, "msg-c")
	const others = 2

	a.send(map[string]any{"action": "sendmessage", "message": "hello, it's \"A\" \\ ü"})
	if ack := a.read(); ack["type"] != "ack" || ack["delivered"] != float64(others) || ack["stale"] != float64(0) {
		t.Errorf("A's ack %v, want delivered=%d", ack, others)
	}
	for _, cl := range []*client{b, c} {
		m := cl.read()
		if m["type"] != "message" || m["from"] != "msg-a" || m["message"] != "hello, it's \"A\" \\ ü" || m["sentAt"] == "" {
			t.Errorf("%s got %v", cl.sub, m)
		}
	}

	t.Run("direct message reaches only its principal", func(t *testing.T) {
		b2 := dial(t, s, "msg-b") // a second connection of the same principal
		a.send(map[string]any{"action": "sendmessage", "message": "psst", "to": "msg-b"})
		if ack := a.read(); ack["delivered"] != float64(2) {
			t.Errorf("ack %v, want delivered=2", ack)
		}
		for _, cl := range []*client{b, b2} {
			if m := cl.read(); m["message"] != "psst" || m["from"] != "msg-a" {
				t.Errorf("%s got %v", cl.sub, m)
			}
		}
		c.quiet(300 * time.Millisecond)
		_ = b2.conn.Close(websocket.StatusNormalClosure, "")
	})

	t.Run("bad input gets an error and the connection stays usable", func(t *testing.T) {
		cases := []struct {
			body any
			code string
		}{
			{`{"action":"nope"}`, "unknown_action"},
			{`this is not json`, "invalid_json"},
			{`[1,2]`, "not_object"},
			{map[string]any{"action": "sendmessage"}, "missing_message"},
			{map[string]any{"action": "sendmessage", "message": 7}, "invalid_message"},
			{map[string]any{"action": "sendmessage", "message": "   "}, "empty_message"},
			{map[string]any{"action": "sendmessage", "message": strings.Repeat("x", 40*1024)}, "message_too_large"},
		}
		for _, tc := range cases {
			a.sendFragmented(tc.body)
			if r := a.read(); r["type"] != "error" || r["code"] != tc.code || r["message"] == "" {
				t.Errorf("%.40v: got %v, want code %s", tc.body, r, tc.code)
			}
		}
		b.quiet(200 * time.Millisecond)
		a.send(map[string]any{"action": "sendmessage", "message": "still here"})
		if ack := a.read(); ack["type"] != "ack" {
			t.Errorf("after errors: %v", ack)
		}
		b.read()
		c.read()
	})
}

func TestE2EStaleConnection(t *testing.T) {
	s := e2e(t)
	idle(t, s)
	a, b := dial(t, s, "stale-a"), dial(t, s, "stale-b")
	victim := dial(t, s, "stale-victim")
	var victimID string
	testutil.Eventually(t, 10*time.Second, func() bool {
		for id, p := range rows(t, s) {
			if p == "stale-victim" {
				victimID = id
				return true
			}
		}
		return false
	}, "victim stored")
	// Killed without a close frame: its $disconnect is delayed, as API
	// Gateway's may be, so the next broadcast meets a 410.
	_ = victim.conn.CloseNow()
	testutil.Eventually(t, 10*time.Second, func() bool {
		for _, id := range s.gateway.ConnectionIDs() {
			if id == victimID {
				return false
			}
		}
		return true
	}, "gateway noticed")

	a.send(map[string]any{"action": "sendmessage", "message": "anyone?"})
	ack := a.read()
	if ack["stale"] != float64(1) {
		t.Errorf("ack %v, want stale=1", ack)
	}
	if m := b.read(); m["message"] != "anyone?" {
		t.Errorf("b got %v", m)
	}
	if _, ok := rows(t, s)[victimID]; ok {
		t.Error("the stale row was not deleted")
	}
}

// TestE2EManyClients: 50 clients send 20 messages each; every message
// reaches every other client exactly once, and every ack its sender.
func TestE2EManyClients(t *testing.T) {
	s := e2e(t)
	idle(t, s)
	const clients, messages = 50, 20
	var cs []*client
	for i := range clients {
		cs = append(cs, dial(t, s, fmt.Sprintf("many-%02d", i)))
	}
	const total = clients

	type got struct {
		acks     int
		received map[string]int // "from/message" → count
		wrong    []string
	}
	results := make([]got, clients)
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &results[i]
			r.received = map[string]int{}
			want := messages + (clients-1)*messages // acks + messages from others
			timeout := time.After(120 * time.Second)
			for n := 0; n < want; n++ {
				var b []byte
				select {
				case f, ok := <-c.frames:
					if !ok {
						r.wrong = append(r.wrong, fmt.Sprint("read: ", c.err))
						return
					}
					b = f
				case <-timeout:
					r.wrong = append(r.wrong, fmt.Sprintf("timed out after %d frames", n))
					return
				}
				var m map[string]any
				_ = json.Unmarshal(b, &m)
				switch m["type"] {
				case "ack":
					r.acks++
					if m["delivered"] != float64(total-1) {
						r.wrong = append(r.wrong, "ack "+string(b))
					}
				case "message":
					if m["from"] == c.sub {
						r.wrong = append(r.wrong, "own message "+string(b))
					}
					r.received[fmt.Sprint(m["from"], "/", m["message"])]++
				default:
					r.wrong = append(r.wrong, string(b))
				}
			}
		}()
	}
	start := time.Now()
	var senders sync.WaitGroup
	for i, c := range cs {
		senders.Add(1)
		go func() {
			defer senders.Done()
			for j := range messages {
				b, _ := json.Marshal(map[string]any{"action": "sendmessage", "message": fmt.Sprintf("m%02d-%02d", i, j)})
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				_ = c.conn.Write(ctx, websocket.MessageText, b)
				cancel()
			}
		}()
	}
	senders.Wait()
	wg.Wait()
	t.Logf("%d clients x %d messages: %d deliveries in %v", clients, messages, clients*messages*(clients-1), time.Since(start))

	for i, r := range results {
		if len(r.wrong) > 0 {
			t.Errorf("client %d: %d wrong frames, first %q", i, len(r.wrong), r.wrong[0])
			continue
		}
		if r.acks != messages {
			t.Errorf("client %d: %d acks, want %d", i, r.acks, messages)
		}
		for k := range clients {
			if k == i {
				continue
			}
			for j := range messages {
				key := fmt.Sprintf("many-%02d/m%02d-%02d", k, k, j)
				if r.received[key] != 1 {
					t.Errorf("client %d got %s %d times", i, key, r.received[key])
				}
			}
		}
	}
}

// TestE2EWscat drives the pinned wscat from npm, as the README tells users
// to, against the local run.
func TestE2EWscat(t *testing.T) {
	s := e2e(t)
	wscat, err := filepath.Abs(filepath.Join("..", "node_modules", ".bin", "wscat"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(wscat); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("wscat is not installed (%v): CI must run npm ci", err)
		}
		t.Skipf("SKIPPED: wscat is not installed (%v); run npm ci (make test does)", err)
	}
	idle(t, s)
	listener := dial(t, s, "wscat-listener")
	tok, err := s.Token("wscat-user", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, wscat, "-c", s.URL+"?token="+tok,
		"-x", `{"action":"sendmessage","message":"hello from wscat"}`, "-x", "not json", "-w", "2")
	// wscat quits when its standard input ends: keep it open until it
	// exits (Wait closes it).
	if _, err := cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("wscat: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"type":"ack","delivered":1`) || !strings.Contains(lines[1], `"code":"invalid_json"`) {
		t.Errorf("wscat printed %q, want the ack and an invalid_json error", out)
	}
	if m := listener.read(); m["message"] != "hello from wscat" || m["from"] != "wscat-user" {
		t.Errorf("listener got %v", m)
	}
}

// TestE2EExternalDynamoDB: with --dynamodb-endpoint the tables are created
// in that server and the functions use it.
func TestE2EExternalDynamoDB(t *testing.T) {
	e2e(t)
	external := httptest.NewServer(withCRC32(minidyn.NewServer()))
	defer external.Close()
	s, err := Start(context.Background(), Options{
		AssemblyDir:      e2eAssembly,
		StateDir:         t.TempDir(),
		DynamoDBEndpoint: external.URL,
		Logs:             e2eLogs,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	}()
	if s.DynamoDB != external.URL {
		t.Errorf("DynamoDB endpoint %s, want %s", s.DynamoDB, external.URL)
	}
	c := dial(t, s, "external-user")
	testutil.Eventually(t, 10*time.Second, func() bool {
		for _, p := range rows(t, s) {
			if p == "external-user" {
				return true
			}
		}
		return false
	}, "row in the external table")
	c.send(map[string]any{"action": "sendmessage", "message": "hi"})
	if ack := c.read(); ack["type"] != "ack" {
		t.Errorf("ack %v", ack)
	}
}

// refusingWrites is a DynamoDB API that refuses every PutItem, as a table
// the function may not write to would.
func refusingWrites(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".PutItem") {
			body := []byte(`{"__type":"com.amazonaws.dynamodb.v20120810#AccessDeniedException","message":"e2e: writes refused"}`)
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write(body)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// startRun starts a local run of its own on assemblyDir, closed when the
// test ends.
func startRun(t *testing.T, assemblyDir, dynamoDBEndpoint string) *Server {
	t.Helper()
	s, err := Start(context.Background(), Options{
		AssemblyDir:      assemblyDir,
		StateDir:         t.TempDir(),
		DynamoDBEndpoint: dynamoDBEndpoint,
		Logs:             e2eLogs,
	})
	if err != nil {
		t.Fatalf("start: %v\n%s", err, e2eLogs.String())
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
	return s
}

// TestE2EConnectRefused: when the connect function cannot store the
// connection it answers statusCode 500, and the client's handshake fails
// with that status (the proxy $connect integration).
func TestE2EConnectRefused(t *testing.T) {
	e2e(t)
	db := httptest.NewServer(refusingWrites(withCRC32(minidyn.NewServer())))
	defer db.Close()
	s := startRun(t, e2eAssembly, db.URL)
	tok, err := s.Token("refused-user", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if status, c := dialToken(t, s, "?token="+tok); status != 500 {
		if c != nil {
			_ = c.CloseNow()
		}
		t.Fatalf("handshake %d, want 500 from the connect function\n%s", status, e2eLogs.String())
	}
	if ids := s.gateway.ConnectionIDs(); len(ids) != 0 {
		t.Errorf("refused, yet connections %v", ids)
	}
	if r := rows(t, s); len(r) != 0 {
		t.Errorf("rows %v", r)
	}
}

// crashingAssembly is the e2e assembly with a message function that exits
// as soon as it starts, as a crashed runtime does: every invocation fails
// with Runtime.ExitError. The other assets are the same files.
func crashingAssembly(t *testing.T) string {
	t.Helper()
	asm, err := assembly.Load(e2eAssembly)
	if err != nil {
		t.Fatal(err)
	}
	var crashing string
	for id, fn := range asm.Functions {
		if shortName(id) == "MessageFunction" {
			crashing = fn.AssetDir
		}
	}
	crash, err := os.ReadFile("/bin/false")
	if err != nil {
		t.Skipf("no /bin/false to crash with: %v", err)
	}
	dst := t.TempDir()
	entries, err := os.ReadDir(e2eAssembly)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		src, to := filepath.Join(e2eAssembly, e.Name()), filepath.Join(dst, e.Name())
		switch {
		case src == crashing:
			err = os.Mkdir(to, 0o755)
			if err == nil {
				err = os.WriteFile(filepath.Join(to, "bootstrap"), crash, 0o755)
			}
		case e.IsDir():
			err = os.Symlink(src, to)
		default:
			var b []byte
			if b, err = os.ReadFile(src); err == nil {
				err = os.WriteFile(to, b, 0o644)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// TestE2EMessageFunctionCrash: a message whose function crashes gets the
// stack's error frame, through the integration response keyed /[\s\S]+/,
// with API Gateway's request id; the connection stays open.
func TestE2EMessageFunctionCrash(t *testing.T) {
	e2e(t)
	s := startRun(t, crashingAssembly(t), "")
	c := dial(t, s, "crash-user")
	for range 2 {
		c.send(map[string]any{"action": "sendmessage", "message": "hello"})
		f := c.read()
		msg, _ := f["message"].(string)
		if f["type"] != "error" || f["code"] != "internal" || !strings.HasPrefix(msg, "internal error, request id ") ||
			strings.Contains(msg, "$context") {
			t.Errorf("frame %v, want the internal error frame", f)
		}
	}
	c.send("not json") // $default, the same function
	if f := c.read(); f["code"] != "internal" {
		t.Errorf("frame %v, want the internal error frame", f)
	}
}
