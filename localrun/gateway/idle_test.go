package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"wsapi/internal/testutil"
)

// raiseFDLimit makes room for n open files in the test process, or skips.
func raiseFDLimit(t *testing.T, n uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skipf("cannot read RLIMIT_NOFILE: %v", err)
	}
	if lim.Cur >= n {
		return
	}
	if lim.Max < n {
		t.Skipf("needs %d open files; the hard limit is %d (raise it with ulimit -Hn)", n, lim.Max)
	}
	old := lim
	lim.Cur = n
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skipf("cannot raise RLIMIT_NOFILE to %d: %v", n, err)
	}
	t.Cleanup(func() { _ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) })
}

// idleKind is one way a client holds a connection without using it.
type idleKind struct {
	name string
	send string // bytes written at once
	// keepAlive: send is a whole request, whose response the client reads
	// before going idle.
	keepAlive bool
}

func TestIdleConnectionsAreDropped(t *testing.T) {
	const (
		sockets = 1000
		bound   = time.Second
		// Generous room over bound: two waves of sockets (more than the cap
		// of 768) on a busy two-core machine. With no timeouts they would
		// stay open forever.
		dropDeadline = 20 * time.Second
	)
	raiseFDLimit(t, 2*sockets+500) // both ends of each socket, and the rest
	a := newTestAPI(t, func(_ *Config, o *Options) {
		o.Server = ServerLimits{ReadHeaderTimeout: bound, ReadTimeout: bound, WriteTimeout: 2 * bound, IdleTimeout: bound}
	})
	addr, ln := serveLimited(t, a)
	maxConns := defaultMaxConnections(fdLimit())

	post := func(path string) string {
		return "POST " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"a\":"
	}
	get := func(path string) string { return "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\n\r\n" }
	kinds := []idleKind{
		{name: "silent"},
		{name: "partial request line", send: "GET /pro"},
		{name: "partial headers", send: "GET /prod HTTP/1.1\r\nHost: " + addr + "\r\n"},
		{name: "slow body to @connections", send: post("/prod/@connections/abc")},
		{name: "slow body to /", send: post("/")},
		{name: "keep-alive after a request to /", send: get("/"), keepAlive: true},
		{name: "keep-alive after a request to @connections", send: get("/prod/@connections/abc"), keepAlive: true},
	}

	type result struct {
		kind    string
		open    time.Duration // from the request sent to the server's close
		err     error
		dropped bool
	}
	results := make(chan result, sockets)
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			_ = c.Close()
		}
	})
	start := time.Now()
	for i := range sockets {
		k := kinds[i%len(kinds)]
		// Generous: where the accept queue is short, a queued SYN is retried.
		c, err := net.DialTimeout("tcp", addr, dropDeadline)
		if err != nil {
			t.Fatalf("idle socket %d: %v", i, err)
		}
		conns = append(conns, c)
		sent := time.Now()
		if _, err := io.WriteString(c, k.send); err != nil {
			t.Fatalf("idle socket %d: %v", i, err)
		}
		go func() {
			_ = c.SetReadDeadline(sent.Add(dropDeadline))
			r := bufio.NewReader(c)
			if k.keepAlive {
				// Queued sockets get their answer once they have a slot.
				resp, err := http.ReadResponse(r, nil)
				if err != nil {
					results <- result{kind: k.name, err: fmt.Errorf("read response: %w", err)}
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
			_, err := io.Copy(io.Discard, r)
			if err = closedByServer(err); err != nil {
				results <- result{kind: k.name, err: err}
				return
			}
			results <- result{kind: k.name, open: time.Since(sent), dropped: true}
		}()
	}
	opened := time.Since(start)

	// A valid client, while the idle sockets hold every slot: it gets one
	// as soon as they are dropped.
	validStart := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), dropDeadline)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, "ws://"+addr+"/prod?token=t", nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("valid client: %v (HTTP %d) after %v", err, status, time.Since(validStart))
	}
	connected := time.Since(validStart)
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"action":"sendmessage","text":"hi"}`)); err != nil {
		t.Fatalf("valid client write: %v", err)
	}
	if _, reply, err := ws.Read(ctx); err != nil {
		t.Fatalf("valid client read: %v", err)
	} else if m := decode(t, reply); m["type"] != "ack" {
		t.Errorf("valid client reply %s", reply)
	}
	answered := time.Since(validStart)
	_ = ws.Close(websocket.StatusNormalClosure, "")

	var open []time.Duration
	failures := map[string][]error{}
	for range sockets {
		r := <-results
		if !r.dropped {
			failures[r.kind] = append(failures[r.kind], r.err)
			continue
		}
		open = append(open, r.open)
	}
	all := time.Since(start)
	slices.Sort(open)
	t.Logf("%d idle sockets opened in %v; bound %v, cap %d, peak %d open at once", sockets, opened.Round(time.Millisecond), bound, maxConns, ln.Peak())
	if len(open) > 0 {
		t.Logf("dropped %d: each open %v (fastest) / %v (median) / %v (slowest); the last one %v after the first was opened",
			len(open), open[0].Round(time.Millisecond), open[len(open)/2].Round(time.Millisecond), open[len(open)-1].Round(time.Millisecond), all.Round(time.Millisecond))
	}
	t.Logf("valid client: connected after %v, its message answered after %v", connected.Round(time.Millisecond), answered.Round(time.Millisecond))

	for _, k := range kinds {
		if errs := failures[k.name]; len(errs) > 0 {
			t.Errorf("%s: %d sockets not dropped within %v, first: %v", k.name, len(errs), dropDeadline, errs[0])
		}
	}
	if p := ln.Peak(); p > maxConns {
		t.Errorf("%d connections open at once, over the cap of %d", p, maxConns)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return ln.Open() == 0 }, "listener's connections closed")
}

// TestWebSocketOutlivesHTTPTimeouts: the server's timeouts bound plain
// requests only. A handshake slower than all of them (a slow authorizer)
// connects, and the connection then stays open, idle past them, under API
// Gateway's own idle and duration limits.
func TestWebSocketOutlivesHTTPTimeouts(t *testing.T) {
	const bound = 200 * time.Millisecond
	a := newTestAPI(t, func(_ *Config, o *Options) {
		o.Server = ServerLimits{ReadHeaderTimeout: bound, ReadTimeout: bound, WriteTimeout: bound, IdleTimeout: bound}
	})
	allow := a.authorizer.handle
	a.authorizer.handle = func(p []byte) Result {
		time.Sleep(3 * bound) // every deadline of the request has passed
		return allow(p)
	}
	addr, _ := serveLimited(t, a)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, "ws://"+addr+"/prod?token=t", nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("a handshake slower than the HTTP timeouts: %v (HTTP %d)", err, status)
	}
	defer ws.CloseNow()
	// Idle for several times every HTTP timeout; an HTTP deadline left on
	// the hijacked connection would have cut it.
	time.Sleep(5 * bound)
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"action":"sendmessage","text":"still here"}`)); err != nil {
		t.Fatalf("write after idling: %v", err)
	}
	_, reply, err := ws.Read(ctx)
	if err != nil {
		t.Fatalf("read after idling: %v", err)
	}
	if m := decode(t, reply); m["type"] != "ack" {
		t.Errorf("reply %s", reply)
	}
}

func TestDefaultMaxConnections(t *testing.T) {
	for _, tc := range []struct {
		fdLimit uint64
		want    int
	}{
		{fdLimit: 0, want: 768}, // unknown
		{fdLimit: 1024, want: 768},
		{fdLimit: 1 << 20, want: 768},
		{fdLimit: 400, want: 300},
		{fdLimit: 1, want: 1},
	} {
		if got := defaultMaxConnections(tc.fdLimit); got != tc.want {
			t.Errorf("file limit %d: cap %d, want %d", tc.fdLimit, got, tc.want)
		}
	}
}
