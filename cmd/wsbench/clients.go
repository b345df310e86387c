package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/sync/errgroup"

	"wsapi/contract"
)

// The broadcast's receivers live in a child process (wsbench -clients):
// 10,000 client sockets and the gateway's 10,000 server sockets in one
// process would pass the hard file limit (20,000 here). The parent drives
// it with one JSON command per line on the child's stdin and reads one
// JSON answer per line from its stdout.

// command is one parent → child line.
type command struct {
	Op       string   `json:"op"` // dial, count, close
	URL      string   `json:"url,omitempty"`
	Tokens   []string `json:"tokens,omitempty"` // cycled over the new connections
	Total    int      `json:"total,omitempty"`  // dial: connections open afterwards
	InFlight int      `json:"inFlight,omitempty"`
	ID       string   `json:"id,omitempty"` // count: the message id
}

// answer is one child → parent line.
type answer struct {
	Err string `json:"err,omitempty"`
	// dial
	Open   int   `json:"open"`
	TookMS int64 `json:"tookMs,omitempty"`
	// count: how many of Open connections got the id not at all, once,
	// more than once; the frames past the first; the last arrival.
	Missed       int   `json:"missed"`
	Once         int   `json:"once"`
	Duplicated   int   `json:"duplicated"`
	ExtraFrames  int   `json:"extraFrames"`
	LastUnixNano int64 `json:"lastUnixNano"`
}

// receiver is one client connection and what it received, by message id.
type receiver struct {
	ws   *websocket.Conn
	mu   sync.Mutex
	seen map[string]int
}

// clientPool is the child's side.
type clientPool struct {
	mu        sync.Mutex
	receivers []*receiver
	last      sync.Map // message id → *atomic.Int64 (Unix ns of the last frame)
	readErrs  atomic.Int64
}

// runClients is the child's main loop.
func runClients(in io.Reader, out io.Writer) error {
	raiseFileLimit()
	p := &clientPool{}
	defer p.closeAll()
	enc := json.NewEncoder(out)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var c command
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			return fmt.Errorf("clients: bad command: %w", err)
		}
		var a answer
		switch c.Op {
		case "dial":
			start := time.Now()
			if err := p.dial(c); err != nil {
				a.Err = err.Error()
			}
			a.TookMS = time.Since(start).Milliseconds()
			a.Open = p.open()
		case "count":
			a = p.count(c.ID)
		case "close":
			return nil
		default:
			a.Err = "unknown op " + c.Op
		}
		if err := enc.Encode(a); err != nil {
			return fmt.Errorf("clients: answer: %w", err)
		}
	}
	return sc.Err()
}

func (p *clientPool) open() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.receivers)
}

// dial opens connections until c.Total are open, c.InFlight handshakes at
// a time (each runs the authorizer and $connect functions).
func (p *clientPool) dial(c command) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	need := c.Total - p.open()
	if need <= 0 {
		return nil
	}
	if len(c.Tokens) == 0 {
		return errors.New("dial: no tokens")
	}
	// The first failure cancels the handshakes under way and the rest.
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(max(c.InFlight, 1))
	for i := range need {
		if ctx.Err() != nil {
			break
		}
		g.Go(func() error {
			dctx, dcancel := context.WithTimeout(ctx, 2*time.Minute)
			defer dcancel()
			ws, _, err := websocket.Dial(dctx, c.URL+"?token="+c.Tokens[i%len(c.Tokens)], nil)
			if err != nil {
				return fmt.Errorf("connection %d: %w", i, err)
			}
			ws.SetReadLimit(1 << 20)
			r := &receiver{ws: ws, seen: map[string]int{}}
			p.mu.Lock()
			p.receivers = append(p.receivers, r)
			p.mu.Unlock()
			go p.read(r)
			return nil
		})
	}
	return g.Wait()
}

// read counts the message frames r receives, by id.
func (p *clientPool) read(r *receiver) {
	for {
		_, b, err := r.ws.Read(context.Background())
		if err != nil {
			p.readErrs.Add(1)
			return
		}
		now := time.Now().UnixNano()
		var f struct{ Type, ID string }
		if json.Unmarshal(b, &f) != nil || f.Type != contract.FrameTypeMessage || f.ID == "" {
			continue
		}
		r.mu.Lock()
		r.seen[f.ID]++
		r.mu.Unlock()
		v, _ := p.last.LoadOrStore(f.ID, new(atomic.Int64))
		last := v.(*atomic.Int64)
		for {
			old := last.Load()
			if now <= old || last.CompareAndSwap(old, now) {
				break
			}
		}
	}
}

func (p *clientPool) count(id string) answer {
	p.mu.Lock()
	rs := append([]*receiver(nil), p.receivers...)
	p.mu.Unlock()
	a := answer{Open: len(rs)}
	for _, r := range rs {
		r.mu.Lock()
		n := r.seen[id]
		r.mu.Unlock()
		switch {
		case n == 0:
			a.Missed++
		case n == 1:
			a.Once++
		default:
			a.Duplicated++
			a.ExtraFrames += n - 1
		}
	}
	if v, ok := p.last.Load(id); ok {
		a.LastUnixNano = v.(*atomic.Int64).Load()
	}
	return a
}

func (p *clientPool) closeAll() {
	p.mu.Lock()
	rs := p.receivers
	p.receivers = nil
	p.mu.Unlock()
	var g errgroup.Group
	g.SetLimit(256)
	for _, r := range rs {
		g.Go(func() error {
			_ = r.ws.Close(websocket.StatusNormalClosure, "")
			return nil
		})
	}
	_ = g.Wait()
}

// clientProcess is the parent's handle on the child.
type clientProcess struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *json.Decoder
	enc *json.Encoder
}

// startClients re-executes this binary with -clients.
func startClients() (*clientProcess, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("start the client process: %w", err)
	}
	cmd := exec.Command(exe, "-clients")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("start the client process: %w", err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start the client process: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the client process: %w", err)
	}
	return &clientProcess{cmd: cmd, in: in, out: json.NewDecoder(out), enc: json.NewEncoder(in)}, nil
}

func (c *clientProcess) do(cmd command) (answer, error) {
	if err := c.enc.Encode(cmd); err != nil {
		return answer{}, fmt.Errorf("client process %s: %w", cmd.Op, err)
	}
	var a answer
	if err := c.out.Decode(&a); err != nil {
		return answer{}, fmt.Errorf("client process %s: %w", cmd.Op, err)
	}
	if a.Err != "" {
		return a, fmt.Errorf("client process %s: %s", cmd.Op, a.Err)
	}
	return a, nil
}

// stop closes the child's connections and waits for it to exit.
func (c *clientProcess) stop() {
	_ = c.enc.Encode(command{Op: "close"})
	_ = c.in.Close()
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		_ = c.cmd.Process.Kill()
		<-done
	}
}
