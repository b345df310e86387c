package localrun

// End-to-end tests: the app is synthesized (as `make dev` does, for this
// machine's architecture), its real Lambda binaries run behind the local
// gateway, and real WebSocket clients talk to it over 127.0.0.1.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
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

	"wsapi/contract"
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
		// throttling (enforced by the gateway) would refuse most of them,
		// and the fan-out's default post budget would take a minute.
		props := stacks.WebSocketStackProps{WebSocketAPIProps: websocketapi.WebSocketAPIProps{
			ThrottlingRateLimit: 10000, ThrottlingBurstLimit: 5000,
			FanOutProps: websocketapi.FanOutProps{PostsPerSecond: 10000},
		}}
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
//
// A broadcast's delivery report comes whenever its fan-out ends, possibly
// between other replies, so tests wait for a frame by what it is (await),
// not for the next one; frames passed over stay pending, in order, for
// later awaits, and quiet reports those nobody awaited.
type client struct {
	t       *testing.T
	sub     string
	conn    *websocket.Conn
	frames  chan []byte
	err     error            // the read error, once frames is closed
	pending []map[string]any // read, not yet awaited
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

// read returns the next frame, a pending one first.
func (c *client) read() map[string]any {
	c.t.Helper()
	if len(c.pending) > 0 {
		m := c.pending[0]
		c.pending = c.pending[1:]
		return m
	}
	return c.receive(time.After(20 * time.Second))
}

// receive returns the next frame from the connection, failing the test
// when none comes before timeout.
func (c *client) receive(timeout <-chan time.Time) map[string]any {
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
	case <-timeout:
		c.t.Fatalf("%s: nothing received in time; pending %v\n%s", c.sub, c.pending, e2eLogs.String())
	}
	return nil
}

// await returns the first frame, pending or new, that match accepts; the
// frames it passes over stay pending.
func (c *client) await(what string, match func(map[string]any) bool) map[string]any {
	c.t.Helper()
	for i, m := range c.pending {
		if match(m) {
			c.pending = slices.Delete(c.pending, i, i+1)
			return m
		}
	}
	timeout := time.After(30 * time.Second)
	for {
		select {
		case <-timeout:
			c.t.Fatalf("%s: no %s in 30 s; pending %v\n%s", c.sub, what, c.pending, e2eLogs.String())
		default:
		}
		m := c.receive(timeout)
		if match(m) {
			return m
		}
		c.pending = append(c.pending, m)
	}
}

// frameOf matches a frame of type typ with message id id ("": any id).
func frameOf(typ, id string) func(map[string]any) bool {
	return func(m map[string]any) bool { return m["type"] == typ && (id == "" || m["id"] == id) }
}

// broadcast sends message to everyone and returns its id, from the
// queued ack (README, "The message protocol").
func (c *client) broadcast(message string) string {
	c.t.Helper()
	c.send(map[string]any{"action": "sendmessage", "message": message})
	return c.queued()
}

// queued waits for the queued ack of a broadcast and returns its id.
func (c *client) queued() string {
	c.t.Helper()
	ack := c.await("ack", frameOf("ack", ""))
	id, _ := ack["id"].(string)
	if ack["queued"] != true || !messageID.MatchString(id) || len(ack) != 3 {
		c.t.Fatalf("%s: ack %v, want {type:ack, queued:true, id}", c.sub, ack)
	}
	return id
}

// messageID is a message id: 128 random bits, 32 lower-case hex digits.
var messageID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// delivery waits for the delivery report of broadcast id and checks its
// counts.
func (c *client) delivery(id string, delivered, stale, failed int) {
	c.t.Helper()
	r := c.await("delivery report of "+id, frameOf(contract.FrameTypeDelivery, id))
	if r["delivered"] != float64(delivered) || r["stale"] != float64(stale) || r["failed"] != float64(failed) || len(r) != 5 {
		c.t.Errorf("%s: delivery report %v, want delivered %d, stale %d, failed %d", c.sub, r, delivered, stale, failed)
	}
}

// message waits for the frame of message id, from sender with text, and
// checks it.
func (c *client) message(id, sender, text string) {
	c.t.Helper()
	m := c.await("message "+id, frameOf(contract.FrameTypeMessage, id))
	if m["from"] != sender || m["message"] != text || m["sentAt"] == "" || len(m) != 5 {
		c.t.Errorf("%s got %v, want %q from %s", c.sub, m, text, sender)
	}
}

// quiet asserts nothing arrives for a moment and no frame is left pending:
// every frame a test expects it awaits, so one left over (a repeated
// message, a second report, one's own message) is unexpected.
func (c *client) quiet(d time.Duration) {
	c.t.Helper()
	for _, m := range c.pending {
		c.t.Errorf("%s got an unexpected frame %v", c.sub, m)
	}
	c.pending = nil
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
	db := DynamoDBClient(s.DynamoDB)
	// The connections table, keyed by connection id (beside the jobs table).
	var table string
	for _, name := range s.TableNames {
		d, err := db.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		if ks := d.Table.KeySchema; len(ks) == 1 && aws.ToString(ks[0].AttributeName) == contract.AttrConnectionID {
			table = name
		}
	}
	if table == "" {
		t.Fatalf("no connections table among %v", s.TableNames)
	}
	out, err := db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, item := range out.Items {
		id := item[contract.AttrConnectionID].(*types.AttributeValueMemberS).Value
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

	// A broadcast: queued at once, then one copy to each other connection
	// (none to the sender's) and the delivery report to the sender.
	const hello = "hello, it's \"A\" \\ ü"
	id := a.broadcast(hello)
	for _, cl := range []*client{b, c} {
		cl.message(id, "msg-a", hello)
	}
	a.delivery(id, others, 0, 0)
	for _, cl := range []*client{a, b, c} {
		cl.quiet(300 * time.Millisecond)
	}

	t.Run("direct message reaches only its principal, acked with counts", func(t *testing.T) {
		b2 := dial(t, s, "msg-b") // a second connection of the same principal
		a.send(map[string]any{"action": "sendmessage", "message": "psst", "to": "msg-b"})
		ack := a.await("ack", frameOf("ack", ""))
		id, _ := ack["id"].(string)
		if ack["delivered"] != float64(2) || ack["stale"] != float64(0) || !messageID.MatchString(id) || len(ack) != 4 {
			t.Errorf("ack %v, want delivered=2, stale=0 and the id", ack)
		}
		for _, cl := range []*client{b, b2} {
			cl.message(id, "msg-a", "psst")
		}
		for _, cl := range []*client{a, b, b2, c} {
			cl.quiet(300 * time.Millisecond)
		}
		_ = b2.conn.Close(websocket.StatusNormalClosure, "")
		// Its row goes before the next broadcast, which must not find it stale.
		testutil.Eventually(t, 10*time.Second, func() bool { return len(rows(t, s)) == 3 }, "b2's row removed")
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
			if r := a.await("error frame", frameOf("error", "")); r["type"] != "error" || r["code"] != tc.code || r["message"] == "" {
				t.Errorf("%.40v: got %v, want code %s", tc.body, r, tc.code)
			}
		}
		b.quiet(200 * time.Millisecond)
		id := a.broadcast("still here")
		b.message(id, "msg-a", "still here")
		c.message(id, "msg-a", "still here")
		a.delivery(id, others, 0, 0)
		for _, cl := range []*client{a, b, c} {
			cl.quiet(300 * time.Millisecond)
		}
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

	id := a.broadcast("anyone?")
	b.message(id, "stale-a", "anyone?")
	// The report comes once the fan-out is over, the stale row deleted.
	a.delivery(id, 1, 1, 0)
	if _, ok := rows(t, s)[victimID]; ok {
		t.Error("the stale row was not deleted")
	}
	a.quiet(200 * time.Millisecond)
	b.quiet(100 * time.Millisecond)
}

// TestE2EManyClients: 50 clients broadcast 20 messages each; every message
// reaches every other client exactly once, with the id its sender's queued
// ack named, and every sender gets one delivery report per message, for
// all the others.
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
		acked    map[string]bool   // ids of the queued acks
		reports  map[string]int    // id → delivery reports
		received map[string]int    // "from/message" → count
		ids      map[string]string // "from/message" → its id
		wrong    []string
	}
	results := make([]got, clients)
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &results[i]
			r.acked, r.reports, r.received, r.ids = map[string]bool{}, map[string]int{}, map[string]int{}, map[string]string{}
			// Acks, reports, and messages from the others.
			want := messages + messages + (clients-1)*messages
			timeout := time.After(180 * time.Second)
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
				id, _ := m["id"].(string)
				switch m["type"] {
				case "ack":
					if m["queued"] != true || !messageID.MatchString(id) || r.acked[id] {
						r.wrong = append(r.wrong, "ack "+string(b))
					}
					r.acked[id] = true
				case contract.FrameTypeDelivery:
					r.reports[id]++
					if m["delivered"] != float64(total-1) || m["stale"] != float64(0) || m["failed"] != float64(0) {
						r.wrong = append(r.wrong, "report "+string(b))
					}
				case contract.FrameTypeMessage:
					if m["from"] == c.sub {
						r.wrong = append(r.wrong, "own message "+string(b))
					}
					key := fmt.Sprint(m["from"], "/", m["message"])
					r.received[key]++
					r.ids[key] = id
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

	// The id each message reached the others with: the same everywhere,
	// and one its sender was acked.
	idOf := map[string]string{}
	for i, r := range results {
		if len(r.wrong) > 0 {
			t.Errorf("client %d: %d wrong frames, first %q", i, len(r.wrong), r.wrong[0])
			continue
		}
		if len(r.acked) != messages {
			t.Errorf("client %d: %d acks, want %d", i, len(r.acked), messages)
		}
		for id := range r.acked {
			if r.reports[id] != 1 {
				t.Errorf("client %d: %d delivery reports for %s, want 1", i, r.reports[id], id)
			}
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
				if id, seen := idOf[key]; seen && id != r.ids[key] {
					t.Errorf("client %d got %s with id %s, another client with %s", i, key, r.ids[key], id)
				}
				idOf[key] = r.ids[key]
			}
		}
	}
	for k, r := range results {
		for j := range messages {
			if id := idOf[fmt.Sprintf("many-%02d/m%02d-%02d", k, k, j)]; id != "" && !r.acked[id] {
				t.Errorf("client %d: message %d reached the others with id %s, not one of its acks", k, j, id)
			}
		}
	}
	for _, c := range cs {
		c.quiet(100 * time.Millisecond)
	}
}

// TestE2EWscat drives the pinned wscat from npm, as the README tells users
// to, against the local run: a broadcast's queued ack, its delivery report
// and an error reply are printed. The frames go with -x, sent once the
// connection is open (lines typed before that are dropped), and -w -1
// holds the connection until its standard input ends, so the test reads
// what wscat prints as it comes.
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
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, wscat, "-c", s.URL+"?token="+tok,
		"-x", `{"action":"sendmessage","message":"hello from wscat"}`, "-x", "not json", "-w", "-1")
	// wscat quits when its standard input ends: closing it ends the test.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Not on a terminal, wscat prints each frame it receives on a line of
	// its own, and nothing else.
	wscatOut := &client{t: t, sub: "wscat", frames: make(chan []byte, 16)}
	go func() {
		defer close(wscatOut.frames)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			wscatOut.frames <- []byte(sc.Text())
		}
		wscatOut.err = fmt.Errorf("wscat's output ended: %v", sc.Err())
	}()
	id := wscatOut.queued()
	listener.message(id, "wscat-user", "hello from wscat")
	wscatOut.delivery(id, 1, 0, 0)
	if r := wscatOut.await("error frame", frameOf("error", "")); r["code"] != "invalid_json" {
		t.Errorf("wscat printed %v, want an invalid_json error", r)
	}
	wscatOut.quiet(200 * time.Millisecond)
	listener.quiet(100 * time.Millisecond)
	if err := stdin.Close(); err != nil {
		t.Fatal(err)
	}
	// All of its output read before Wait (os/exec's StdoutPipe).
	for b := range wscatOut.frames {
		t.Errorf("wscat printed an unexpected frame %s", b)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("wscat: %v", err)
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
	// The fan-out's tables are there too: the broadcast is queued, fanned
	// out to nobody, and reported.
	id := c.broadcast("hi")
	c.delivery(id, 0, 0, 0)
	c.quiet(100 * time.Millisecond)
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
