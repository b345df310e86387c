package gateway

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"wsapi/internal/testutil"
)

// serveLimited serves a's gateway as localrun does: HTTPServer on a
// Listener, with the server limits of a's options.
func serveLimited(t *testing.T, a *testAPI) (addr string, ln *LimitListener) {
	t.Helper()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln = a.gateway.Listener(tcp)
	srv := a.gateway.HTTPServer(a.gateway)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return tcp.Addr().String(), ln
}

// rawConn is a WebSocket client on a bare TCP connection, writing frames
// made by hand.
type rawConn struct {
	net.Conn
	r *bufio.Reader
}

// dialRaw connects and completes a handshake the fake authorizer allows.
func dialRaw(addr string) (*rawConn, error) {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET /prod?token=t HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(nc, req); err != nil {
		nc.Close()
		return nil, fmt.Errorf("write handshake: %w", err)
	}
	r := bufio.NewReader(nc)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("read handshake response: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		nc.Close()
		return nil, fmt.Errorf("handshake: HTTP %d", resp.StatusCode)
	}
	return &rawConn{Conn: nc, r: r}, nil
}

// frame encodes one client frame. first is FIN, RSV1-3 and the opcode.
func frame(first byte, payload []byte, masked bool) []byte {
	var b bytes.Buffer
	b.WriteByte(first)
	maskBit := byte(0)
	if masked {
		maskBit = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		b.WriteByte(maskBit | byte(n))
	case n <= 0xffff:
		b.WriteByte(maskBit | 126)
		_ = binary.Write(&b, binary.BigEndian, uint16(n))
	default:
		b.WriteByte(maskBit | 127)
		_ = binary.Write(&b, binary.BigEndian, uint64(n))
	}
	if !masked {
		b.Write(payload)
		return b.Bytes()
	}
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	b.Write(key[:])
	for i, c := range payload {
		b.WriteByte(c ^ key[i%4])
	}
	return b.Bytes()
}

const (
	finText  = 0x81
	finClose = 0x88
	finPing  = 0x89
)

// readUntilEOF reads what the server sends, answering a close frame as a
// client does, until the server closes the connection. An error means the
// server left it open (or the stream made no sense).
func (c *rawConn) readUntilEOF(deadline time.Duration) error {
	_ = c.SetDeadline(time.Now().Add(deadline))
	for {
		h := make([]byte, 2)
		if _, err := io.ReadFull(c.r, h); err != nil {
			return closedByServer(err)
		}
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var x uint16
			if err := binary.Read(c.r, binary.BigEndian, &x); err != nil {
				return closedByServer(err)
			}
			n = uint64(x)
		case 127:
			if err := binary.Read(c.r, binary.BigEndian, &n); err != nil {
				return closedByServer(err)
			}
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(c.r, payload); err != nil {
			return closedByServer(err)
		}
		if h[0]&0x0f == 0x8 {
			// The echo may meet a socket the server already shut: fine.
			_, _ = c.Write(frame(finClose, payload, true))
		}
	}
}

// closedByServer is nil for the end of a stream the server closed (nil,
// EOF or a reset), the error otherwise.
func closedByServer(err error) error {
	var ne net.Error
	switch {
	case err == nil, errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return nil
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("the server left the connection open: %w", err)
	case strings.Contains(err.Error(), "connection reset"):
		return nil
	}
	return err
}

// openFDs counts the process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("count open fds: %v", err)
	}
	return len(entries)
}

// churnCase ends one connection in a way a careless or hostile client does.
type churnCase struct {
	name string
	// send is what the client writes after the handshake.
	send func(c *rawConn) error
	// wait: the client then waits for the server to close the connection;
	// otherwise it vanishes (reset: with a TCP RST).
	wait, reset bool
}

func TestSocketChurn(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("needs /proc/self/fd to count open file descriptors")
	}
	writeFrames := func(frames ...[]byte) func(*rawConn) error {
		return func(c *rawConn) error {
			_, err := c.Write(bytes.Join(frames, nil))
			return err
		}
	}
	message := frame(finText, []byte(`{"action":"sendmessage","text":"hi"}`), true)
	chunk := bytes.Repeat([]byte("a"), 30000) // under the 32 KB frame limit
	closeCode := func(code uint16) []byte { return binary.BigEndian.AppendUint16(nil, code) }
	cases := []churnCase{
		{name: "clean close", send: writeFrames(message, frame(finClose, closeCode(1000), true)), wait: true},
		{name: "killed after sending", send: writeFrames(message)},
		{name: "reset after sending", send: writeFrames(message), reset: true},
		{name: "killed mid-fragment", send: writeFrames(frame(0x01, []byte("hel"), true))},
		{name: "FIN without close frame", send: func(c *rawConn) error {
			if _, err := c.Write(message); err != nil {
				return err
			}
			return c.Conn.(*net.TCPConn).CloseWrite()
		}, wait: true},
		{name: "unmasked frame", send: writeFrames(frame(finText, []byte("hi"), false)), wait: true},
		{name: "RSV bits set", send: writeFrames(frame(finText|0x40, []byte("hi"), true)), wait: true},
		{name: "bad opcode", send: writeFrames(frame(0x83, []byte("hi"), true)), wait: true},
		{name: "200-byte ping", send: writeFrames(frame(finPing, bytes.Repeat([]byte("p"), 200), true)), wait: true},
		{name: "fragmented control frame", send: writeFrames(frame(0x09, []byte("p"), true)), wait: true},
		{name: "stray continuation", send: writeFrames(frame(0x80, []byte("x"), true)), wait: true},
		{name: "close code 999", send: writeFrames(frame(finClose, closeCode(999), true)), wait: true},
		{name: "message over 128 KB", send: writeFrames(frame(0x01, chunk, true), frame(0x00, chunk, true),
			frame(0x00, chunk, true), frame(0x00, chunk, true), frame(0x80, chunk, true)), wait: true},
		{name: "frame over 32 KB", send: writeFrames(frame(finText, bytes.Repeat([]byte("b"), 40000), true)), wait: true},
	}
	const perCase = 25
	const workers = 8

	a := newTestAPI(t, nil)
	addr, ln := serveLimited(t, a)
	// cycle runs one case on a new connection.
	cycle := func(tc churnCase) error {
		c, err := dialRaw(addr)
		if err != nil {
			return err
		}
		defer c.Close()
		if err := tc.send(c); err != nil {
			return fmt.Errorf("send: %w", err)
		}
		if tc.wait {
			return c.readUntilEOF(10 * time.Second)
		}
		if tc.reset {
			_ = c.Conn.(*net.TCPConn).SetLinger(0)
		}
		return nil
	}
	disconnects := 0
	// settle waits for every connection to be over: unregistered, its
	// $disconnect run, its socket closed and its goroutines gone.
	settle := func(fds, goroutines int) (gotFDs, gotGoroutines int, ok bool) {
		const tolerance = 5
		ok = testutil.Poll(15*time.Second, func() bool {
			gotFDs, gotGoroutines = openFDs(t), runtime.NumGoroutine()
			return len(a.gateway.ConnectionIDs()) == 0 && len(a.disconnect.calls()) >= disconnects && ln.Open() == 0 &&
				gotFDs <= fds+tolerance && gotGoroutines <= goroutines+tolerance
		})
		return gotFDs, gotGoroutines, ok
	}

	// One clean cycle first, so that what the first connection starts once
	// is in the baseline.
	if err := cycle(cases[0]); err != nil {
		t.Fatalf("warm-up: %v", err)
	}
	disconnects++
	settle(1<<30, 1<<30)
	baseFDs, baseGoroutines := openFDs(t), runtime.NumGoroutine()

	jobs := make(chan churnCase)
	var mu sync.Mutex
	failures := map[string][]error{}
	var ran atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for tc := range jobs {
				// A case that keeps failing costs its deadline each time:
				// three failures say enough.
				mu.Lock()
				failed := len(failures[tc.name])
				mu.Unlock()
				if failed >= 3 {
					continue
				}
				ran.Add(1)
				if err := cycle(tc); err != nil {
					mu.Lock()
					failures[tc.name] = append(failures[tc.name], err)
					mu.Unlock()
				}
			}
		})
	}
	start := time.Now()
	for range perCase {
		for _, tc := range cases {
			jobs <- tc
		}
	}
	close(jobs)
	wg.Wait()
	disconnects += int(ran.Load())
	peakFDs, peakGoroutines := openFDs(t), runtime.NumGoroutine()
	fds, goroutines, ok := settle(baseFDs, baseGoroutines)
	t.Logf("%d cycles (%d cases × %d) in %v: fds %d before, %d right after, %d settled; goroutines %d before, %d right after, %d settled",
		ran.Load(), len(cases), perCase, time.Since(start).Round(time.Millisecond),
		baseFDs, peakFDs, fds, baseGoroutines, peakGoroutines, goroutines)

	for _, tc := range cases {
		if errs := failures[tc.name]; len(errs) > 0 {
			t.Errorf("%s: %d cycles failed (the rest skipped), first: %v", tc.name, len(errs), errs[0])
		}
	}
	if !ok {
		t.Errorf("not settled in 15 s: %d connections registered, %d of %d $disconnects, %d sockets open on the listener, fds %d (baseline %d), goroutines %d (baseline %d)",
			len(a.gateway.ConnectionIDs()), len(a.disconnect.calls()), disconnects, ln.Open(), fds, baseFDs, goroutines, baseGoroutines)
		if t.Failed() {
			buf := make([]byte, 1<<20)
			t.Logf("goroutines:\n%s", buf[:runtime.Stack(buf, true)])
		}
	}
}
