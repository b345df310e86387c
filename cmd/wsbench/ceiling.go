package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The ceiling runs measure what the @connections protocol alone costs on
// this machine, beside the broadcast and in the same run: processes shaped
// like the fan-out workers (as many as the broadcast kept busy, with as
// many posts in flight each) post the frame once to each virtual
// connection, with none of the worker's table paging, queue, rate limit or
// checkpoints.
//   - signed: each post signed with the SDK's SigV4 signer (what
//     fanoutaws.SignedPoster does, and AWS requires) and checked by the
//     local gateway, as in a broadcast;
//   - signed, bare handler: signed the same way, to a bare net/http
//     handler that reads the body and answers 200 and checks nothing: what
//     the signing AWS requires costs with no gateway at all;
//   - bare: unsigned posts to that handler, the least an HTTP/1.1
//     exchange costs here.
// A broadcast cannot beat the signed run, whose deliveries per second are
// the ceiling of any fan-out through this gateway on this machine; and no
// emulation of @connections, however cheap, can let a fan-out that signs
// beat the second.

// posterCommand is the one line the parent writes to a -posters child.
type posterCommand struct {
	Endpoint string `json:"endpoint"` // http://host:port/stage
	Signed   bool   `json:"signed"`
	// The gateway's credentials and region (signed runs).
	AccessKeyID string `json:"accessKeyId,omitempty"`
	Secret      string `json:"secret,omitempty"`
	Region      string `json:"region,omitempty"`
	From        int    `json:"from"` // virtual connections From..To-1
	To          int    `json:"to"`
	InFlight    int    `json:"inFlight"`
	Frame       []byte `json:"frame"`
}

// posterResult is the child's one line back.
type posterResult struct {
	Posted int    `json:"posted"`
	Failed int    `json:"failed"`
	Err    string `json:"err,omitempty"` // the first failure
}

// ceilingFrame is a broadcast frame's size and shape.
var ceilingFrame = []byte(`{"type":"message","id":"0123456789abcdef0123456789abcdef","from":"broadcaster","message":"hello","sentAt":"2026-11-29T00:00:00Z"}`)

// runPosters is the child's side: post, answer, exit.
func runPosters(in io.Reader, out io.Writer) error {
	var c posterCommand
	if err := json.NewDecoder(bufio.NewReader(in)).Decode(&c); err != nil {
		return fmt.Errorf("posters: bad command: %w", err)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c.InFlight}, Timeout: time.Minute}
	defer client.CloseIdleConnections()
	signer := v4.NewSigner()
	creds := aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.Secret}
	var next, posted, failed atomic.Int64
	next.Store(int64(c.From))
	var firstErr error
	var once sync.Once
	fail := func(err error) {
		failed.Add(1)
		once.Do(func() { firstErr = err })
	}
	var wg sync.WaitGroup
	for range c.InFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for {
				i := int(next.Add(1) - 1)
				if i >= c.To {
					return
				}
				id := virtualID(i)
				req, err := http.NewRequestWithContext(ctx, http.MethodPost,
					c.Endpoint+"/@connections/"+url.PathEscape(id), bytes.NewReader(c.Frame))
				if err != nil {
					fail(err)
					continue
				}
				if c.Signed {
					// The payload hashed per post, as SignedPoster does.
					sum := sha256.Sum256(c.Frame)
					if err := signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "execute-api", c.Region, time.Now()); err != nil {
						fail(err)
						continue
					}
				}
				resp, err := client.Do(req)
				if err != nil {
					fail(err)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					fail(fmt.Errorf("%s: status %d %s", id, resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType")))
					continue
				}
				posted.Add(1)
			}
		}()
	}
	wg.Wait()
	r := posterResult{Posted: int(posted.Load()), Failed: int(failed.Load())}
	if firstErr != nil {
		r.Err = firstErr.Error()
	}
	return json.NewEncoder(out).Encode(r)
}

// ceilingResult is one ceiling run's figures.
type ceilingResult struct {
	posted   int
	took     time.Duration
	parts    map[string]time.Duration // CPU time by part
	failures []string
}

func (c ceilingResult) rate() float64 { return float64(c.posted) / c.took.Seconds() }

// postOnce runs procs -posters children over the virtual connections
// 0..virtual-1, split evenly, and waits for them.
func postOnce(base posterCommand, procs, virtual int) (ceilingResult, error) {
	self, err := os.Executable()
	if err != nil {
		return ceilingResult{}, err
	}
	type child struct {
		cmd *exec.Cmd
		out bytes.Buffer
	}
	children := make([]*child, 0, procs)
	// A child that did start is killed if a later one does not.
	started := false
	defer func() {
		if started {
			return
		}
		for _, ch := range children {
			_ = ch.cmd.Process.Kill()
			_ = ch.cmd.Wait()
		}
	}()
	before := treeCPU()
	start := time.Now()
	for p := range procs {
		c := base
		c.From, c.To = virtual*p/procs, virtual*(p+1)/procs
		line, err := json.Marshal(c)
		if err != nil {
			return ceilingResult{}, err
		}
		ch := &child{cmd: exec.Command(self, "-posters")}
		ch.cmd.Stdin = bytes.NewReader(line)
		ch.cmd.Stdout = &ch.out
		ch.cmd.Stderr = os.Stderr
		if err := ch.cmd.Start(); err != nil {
			return ceilingResult{}, fmt.Errorf("start a poster process: %w", err)
		}
		children = append(children, ch)
	}
	started = true
	var r ceilingResult
	var errs []error
	for _, ch := range children {
		if err := ch.cmd.Wait(); err != nil {
			errs = append(errs, fmt.Errorf("poster process: %w", err))
			continue
		}
		var pr posterResult
		if err := json.Unmarshal(ch.out.Bytes(), &pr); err != nil {
			errs = append(errs, fmt.Errorf("poster process answered %q: %w", ch.out.String(), err))
			continue
		}
		r.posted += pr.Posted
		if pr.Failed > 0 {
			r.failures = append(r.failures, fmt.Sprintf("%d failed (first: %s)", pr.Failed, pr.Err))
		}
	}
	r.took = time.Since(start)
	// The children have exited: their CPU is in this process's
	// children's times, not in /proc any more.
	r.parts = cpuDiff(before, treeCPU())
	for _, ch := range children {
		if ch.cmd.ProcessState != nil {
			r.parts["posters"] += ch.cmd.ProcessState.UserTime() + ch.cmd.ProcessState.SystemTime()
		}
	}
	return r, errors.Join(errs...)
}

// ceiling holds the ceiling runs' settings and the bare handler.
type ceiling struct {
	procs, inFlight, posts int
	signed, signedBare     posterCommand
	bare                   posterCommand
	stopBare               func()
	// Measured before the broadcasts, while this process held no
	// connection and no row: the same machine with a lighter bench process.
	fresh []ceilingRow
}

type ceilingRow struct {
	name string
	cmd  posterCommand
	r    ceilingResult
}

// newCeiling prepares the ceiling runs for a broadcast to size, of which
// virtual are virtual connections, and measures the bare paths at once.
func (s *broadcastSuite) newCeiling(size, virtual int) (*ceiling, error) {
	accessKeyID, secret, region := s.srv.ConnectionsCredentials()
	c := &ceiling{
		procs:    max(1, min(s.workers.workers, s.workers.segments(size))),
		inFlight: s.workers.maxInFlight,
		posts:    virtual,
	}
	c.signed = posterCommand{
		Endpoint: "http" + strings.TrimPrefix(s.srv.URL, "ws"), Signed: true,
		AccessKeyID: accessKeyID, Secret: secret, Region: region, InFlight: c.inFlight, Frame: ceilingFrame,
	}
	bareURL, stopBare, err := startBare()
	if err != nil {
		return nil, err
	}
	c.stopBare = stopBare
	c.bare = posterCommand{Endpoint: bareURL, InFlight: c.inFlight, Frame: ceilingFrame}
	c.signedBare = c.signed
	c.signedBare.Endpoint = bareURL
	c.fresh = []ceilingRow{{name: "signed→bare", cmd: c.signedBare}, {name: "bare", cmd: c.bare}}
	if err := c.runAll(c.fresh); err != nil {
		stopBare()
		return nil, err
	}
	return c, nil
}

// runAll runs each row's posts, one row after the other.
func (c *ceiling) runAll(rows []ceilingRow) error {
	for i, row := range rows {
		r, err := postOnce(row.cmd, c.procs, c.posts)
		if err != nil {
			return fmt.Errorf("ceiling %s: %w", row.name, err)
		}
		if len(r.failures) > 0 {
			return fmt.Errorf("ceiling %s: %s", row.name, strings.Join(r.failures, "; "))
		}
		rows[i].r = r
	}
	return nil
}

// print runs the ceiling beside the broadcast b (which used bCPU) and
// prints it with the runs made before the broadcasts.
func (c *ceiling) print(b runResult, bCPU time.Duration) error {
	fmt.Printf("\nceiling: %d processes (as many as the broadcast's busy workers), %d posts in flight each, post the frame once to each of %d virtual connections, and do nothing else\n",
		c.procs, c.inFlight, c.posts)
	fmt.Println("  signed:      SigV4-signed with the SDK's signer (as the fanout function does), checked by the local gateway: a fan-out through it cannot beat this")
	fmt.Println("  signed→bare: signed the same way, to a bare net/http handler that reads the body, checks nothing and answers 200: signing with no gateway")
	fmt.Println("  bare:        unsigned, to that handler: the least an HTTP/1.1 exchange costs here")
	fmt.Println("  (before): the same, measured before the broadcasts, while this process held no connection and no row")
	fmt.Printf("%-21s %11s %16s %12s  %s\n", "path", "deliv/s", "CPU/delivery", "broadcast÷", "CPU by part")
	bRate := b.rate()
	fmt.Printf("%-21s %11.0f %16v %12s\n", "broadcast", bRate, perDelivery(bCPU, b.delivered), "1.00")
	rows := []ceilingRow{{name: "signed", cmd: c.signed}, {name: "signed→bare", cmd: c.signedBare}, {name: "bare", cmd: c.bare}}
	if err := c.runAll(rows); err != nil {
		return err
	}
	for _, f := range c.fresh {
		rows = append(rows, ceilingRow{name: f.name + " (before)", r: f.r})
	}
	for _, row := range rows {
		fmt.Printf("%-21s %11.0f %16v %12.2f  %s\n", row.name, row.r.rate(), perDelivery(sumCPU(row.r.parts), row.r.posted),
			bRate/row.r.rate(), formatParts(row.r.parts, row.r.posted))
	}
	return nil
}

func perDelivery(cpu time.Duration, n int) time.Duration {
	if n == 0 || cpu == 0 {
		return 0
	}
	return (cpu / time.Duration(n)).Round(time.Microsecond)
}

func formatParts(parts map[string]time.Duration, n int) string {
	var out []string
	for _, k := range []string{"posters", "bench"} {
		if d, ok := parts[k]; ok {
			out = append(out, fmt.Sprintf("%s %v", k, perDelivery(d, n)))
		}
	}
	return strings.Join(out, ", ")
}

// startBare serves the bare handler on loopback.
func startBare() (string, func(), error) {
	addr, stop, err := serveLoopback("bare server", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
	return "http://" + addr + "/bare", stop, err
}
