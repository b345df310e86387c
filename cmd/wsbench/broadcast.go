package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"wsapi/contract"
	"wsapi/localrun"
	"wsapi/localrun/assembly"
	"wsapi/localrun/esm"
	"wsapi/localrun/gateway"
)

// postLoad is what the @connections endpoint injects during a run.
type postLoad struct {
	name    string
	latency time.Duration
	rate    float64 // 0: unlimited
	burst   int
	// autoRate sets rate, per size, to half of what the run before it
	// delivered per second, of what the workers may post together, and of
	// what the workers a broadcast of that size keeps busy (one per
	// segment) can post under the latency (MAX_IN_FLIGHT calls per latency
	// each), whichever is least, and at least 100/s: a limit the fan-out
	// surely meets, so that the run shows its 429 retries.
	autoRate bool
}

// broadcastSuite holds what the runs share: the receivers (real ones in the
// client process, virtual ones in the gateway and the table) and the
// sender, which grow from one size to the next.
type broadcastSuite struct {
	srv     *localrun.Server
	clients *clientProcess
	tokens  []string
	table   string
	real    int // real receivers open
	virtual int // virtual receivers registered
	sender  *websocket.Conn
	frames  chan []byte // what the sender receives
	workers workerConfig
}

// runResult is one broadcast's figures.
type runResult struct {
	real, virtual     int
	ack, last         time.Duration
	delivered         int // recipients that got the message at least once
	retries           int64
	dupReal, dupVirt  int
	missReal, missVrt int
	report            *deliveryReport
}

type deliveryReport struct {
	Type      string `json:"type"`
	ID        string `json:"id"`
	Delivered int    `json:"delivered"`
	Stale     int    `json:"stale"`
	Failed    int    `json:"failed"`
}

// runBroadcasts broadcasts to each size of receivers, once per load.
func runBroadcasts(ctx context.Context, srv *localrun.Server, sizes []int, realMax int, loads []postLoad, w workerConfig) error {
	workerSum := w.perWorker * float64(w.workers)
	s := &broadcastSuite{srv: srv, frames: make(chan []byte, 64), workers: w}
	var err error
	if s.table, err = connectionsTable(ctx, localrun.DynamoDBClient(srv.DynamoDB), srv.TableNames); err != nil {
		return err
	}
	// A token per 100 receivers: principals with many connections each.
	for i := range (realMax + 99) / 100 {
		tok, err := srv.Token(fmt.Sprintf("listener-%d", i), 4*time.Hour)
		if err != nil {
			return fmt.Errorf("token: %w", err)
		}
		s.tokens = append(s.tokens, tok)
	}
	if s.clients, err = startClients(); err != nil {
		return err
	}
	defer s.clients.stop()
	if s.sender, err = dialLocal(ctx, srv, "broadcaster"); err != nil {
		return fmt.Errorf("sender: %w", err)
	}
	s.sender.SetReadLimit(1 << 20)
	defer s.sender.Close(websocket.StatusNormalClosure, "")
	go func() {
		defer close(s.frames)
		for {
			_, b, err := s.sender.Read(context.Background())
			if err != nil {
				return
			}
			s.frames <- b
		}
	}()

	fmt.Printf("\nbroadcast: one real client sends {\"action\":%q}; recipients are real WebSocket connections (in a child process) "+
		"and, past %d, virtual ones (rows in the connections table the gateway counts posts to, no socket: benchmark only)\n",
		contract.ActionSendMessage, realMax)
	for _, l := range loads {
		if l.autoRate {
			fmt.Printf("  load %-9s %v per @connections call, 429 LimitExceededException past a limit set per size, below what the unloaded run delivered and the busy workers can post\n", l.name, l.latency)
			continue
		}
		fmt.Printf("  load %-9s %s\n", l.name, describeLoad(l))
	}
	header := fmt.Sprintf("%-8s %-9s %7s %7s %8s %9s %11s %8s %6s %6s  %s",
		"size", "load", "real", "virtual", "ack", "last", "deliv/s", "retries", "dups", "missed", "report (delivered/stale/failed)")
	// The ceiling runs (ceiling.go), for the largest size if it has
	// virtual connections: the bare paths now, the rest after it.
	var c *ceiling
	if largest := sizes[len(sizes)-1]; largest > realMax {
		if c, err = s.newCeiling(largest, largest-realMax); err != nil {
			return err
		}
		defer c.stopBare()
	}
	printedHeader := false
	// The largest size's unloaded run, compared with the ceiling runs.
	var ceilingOf *runResult
	var ceilingCPU time.Duration
	for _, size := range sizes {
		wantReal := min(size, realMax)
		if wantReal > s.real {
			start := time.Now()
			a, err := s.clients.do(command{Op: "dial", URL: srv.URL, Tokens: s.tokens, Total: wantReal, InFlight: 32})
			if err != nil {
				return fmt.Errorf("open %d real connections: %w", wantReal, err)
			}
			took := time.Since(start)
			fmt.Printf("  opened %d real connections (%d new) in %v, %.0f/s, 32 handshakes in flight\n",
				a.Open, a.Open-s.real, took.Round(time.Millisecond), float64(a.Open-s.real)/took.Seconds())
			s.real = a.Open
		}
		if wantVirtual := size - s.real; wantVirtual > s.virtual {
			start := time.Now()
			if err := addVirtual(ctx, srv, s.table, s.virtual, wantVirtual); err != nil {
				return err
			}
			fmt.Printf("  added %d virtual connections (rows and gateway registrations) in %v\n",
				wantVirtual-s.virtual, time.Since(start).Round(time.Millisecond))
			s.virtual = wantVirtual
		}
		var prev *runResult
		for _, l := range loads {
			if l.autoRate {
				// What the workers this size keeps busy can post under
				// the latency alone: a small broadcast has few segments.
				busy := min(s.workers.workers, s.workers.segments(size))
				l.rate = min(workerSum, float64(busy*s.workers.maxInFlight)/l.latency.Seconds()) / 2
				if prev != nil {
					l.rate = min(l.rate, prev.rate()/2)
				}
				l.rate = max(l.rate, 100)
				l.burst = gateway.PostBurst(l.rate, 0)
				fmt.Printf("  load %s at %d: %s\n", l.name, size, describeLoad(l))
			}
			if !printedHeader {
				fmt.Println("  ack: send to the queued ack; last: send to the last delivery; deliv/s: recipients reached per second until then;")
				fmt.Println("  retries: 429s the gateway answered; dups: recipients that got the message more than once; missed: recipients that never got it")
				fmt.Println(header)
				printedHeader = true
			}
			srv.Gateway().SetPostLoad(l.latency, l.rate, l.burst)
			stopProfile := func() {}
			if broadcastProfile != "" && l.latency == 0 && l.rate == 0 && size == sizes[len(sizes)-1] {
				stopProfile = startProfile(broadcastProfile)
			}
			cpuBefore := treeCPU()
			r, err := s.broadcastOnce(ctx)
			cpuAfter := treeCPU()
			stopProfile()
			srv.Gateway().SetPostLoad(0, 0, 0)
			if err != nil {
				fmt.Printf("%-8d %-9s error: %v\n", size, l.name, err)
				prev = nil
				continue
			}
			r.print(size, l.name)
			spent := cpuDiff(cpuBefore, cpuAfter)
			printCPU(spent, r.delivered, l.latency == 0 && l.rate == 0)
			prev = &r
			if l.latency == 0 && l.rate == 0 && size == sizes[len(sizes)-1] {
				ceilingOf, ceilingCPU = &r, sumCPU(spent)
			}
		}
	}
	if ceilingOf == nil || c == nil {
		return nil
	}
	return c.print(*ceilingOf, ceilingCPU)
}

// cpuDiff is the CPU time each part used between two treeCPU reads (the
// parts that used some).
func cpuDiff(before, after map[string]time.Duration) map[string]time.Duration {
	spent := map[string]time.Duration{}
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			spent[k] = d
		}
	}
	return spent
}

// sumCPU is the CPU time of all parts together.
func sumCPU(parts map[string]time.Duration) time.Duration {
	var total time.Duration
	for _, d := range parts {
		total += d
	}
	return total
}

func describeLoad(l postLoad) string {
	if l.latency == 0 && l.rate == 0 {
		return "no injected latency, no @connections rate limit"
	}
	return fmt.Sprintf("%v per @connections call, 429 LimitExceededException past %.0f requests/s (burst %d)", l.latency, l.rate, l.burst)
}

// broadcastProfile is the -broadcast-cpuprofile flag.
var broadcastProfile string

// startProfile starts a CPU profile to path, and returns what stops it;
// a failure is printed, not fatal.
func startProfile(path string) (stop func()) {
	f, err := os.Create(path)
	if err != nil {
		fmt.Printf("  cpu profile: %v\n", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Printf("  cpu profile: %v\n", err)
		_ = f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}
}

// printCPU says what CPU time each part used per delivery during a run
// (Linux only), and the deliveries per second the machine's cores would
// allow at that cost if the run had them all: the machine is shared, so
// the load average is printed too.
func printCPU(spent map[string]time.Duration, delivered int, unloaded bool) {
	total := sumCPU(spent)
	if total == 0 || delivered == 0 {
		return
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(spent)) {
		parts = append(parts, fmt.Sprintf("%s %.0fµs", k, float64(spent[k].Microseconds())/float64(delivered)))
	}
	perDelivery := float64(total.Microseconds()) / float64(delivered)
	if !unloaded {
		// Retries and waiting under the injected load: no ceiling to read.
		fmt.Printf("%-18s CPU per delivery, 429 retries included: %s; %.0fµs in all (load average %s)\n", "",
			strings.Join(parts, ", "), perDelivery, loadAverage())
		return
	}
	fmt.Printf("%-18s CPU per delivery: %s; %.0fµs in all, so %d cores allow at most %.0f/s (load average %s)\n", "",
		strings.Join(parts, ", "), perDelivery, runtime.NumCPU(), float64(runtime.NumCPU())*1e6/perDelivery, loadAverage())
}

// rate is the run's deliveries per second.
func (r runResult) rate() float64 { return float64(r.delivered) / r.last.Seconds() }

func (r runResult) print(size int, load string) {
	rate := r.rate()
	report := "none"
	if r.report != nil {
		report = fmt.Sprintf("%d/%d/%d", r.report.Delivered, r.report.Stale, r.report.Failed)
	}
	fmt.Printf("%-8d %-9s %7d %7d %8v %9v %11.0f %8d %6d %6d  %s\n", size, load, r.real, r.virtual,
		r.ack.Round(time.Millisecond), r.last.Round(time.Millisecond), rate, r.retries,
		r.dupReal+r.dupVirt, r.missReal+r.missVrt, report)
	if r.dupVirt+r.missVrt > 0 || r.dupReal+r.missReal > 0 {
		fmt.Printf("%-18s duplicates %d real + %d virtual, missed %d real + %d virtual\n", "", r.dupReal, r.dupVirt, r.missReal, r.missVrt)
	}
}

// broadcastOnce sends one broadcast and waits for its delivery report,
// then for every recipient (briefly: a frame may trail the report).
func (s *broadcastSuite) broadcastOnce(ctx context.Context) (runResult, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Minute)
	defer cancel()
	g := s.srv.Gateway()
	r := runResult{real: s.real, virtual: s.virtual}
	before := g.PostStats()
	virtualBefore := g.VirtualCounts()

	// The last virtual delivery: when the gateway's count of virtual posts
	// last moved (a post's own time is not recorded).
	var lastVirtual atomic.Int64
	stop := make(chan struct{})
	pollDone := make(chan struct{})
	go func() {
		defer close(pollDone)
		prev := before.VirtualPosts
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case now := <-t.C:
				if n := g.PostStats().VirtualPosts; n != prev {
					prev = n
					lastVirtual.Store(now.UnixNano())
				}
			}
		}
	}()
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		<-pollDone
	}()

	start := time.Now()
	msg := `{"action":"` + contract.ActionSendMessage + `","message":"wsbench ` + strconv.FormatInt(start.UnixNano(), 36) + `"}`
	if err := s.sender.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		return r, fmt.Errorf("send: %w", err)
	}
	var id string
	for id == "" || r.report == nil {
		var b []byte
		select {
		case b = <-s.frames:
		case <-ctx.Done():
			if id == "" {
				return r, errors.New("no ack")
			}
			return r, fmt.Errorf("no delivery report for %s", id)
		}
		if b == nil {
			return r, errors.New("the sender's connection closed")
		}
		var f struct {
			Type   string
			Queued bool
			ID     string
		}
		if json.Unmarshal(b, &f) != nil {
			continue
		}
		switch {
		case f.Type == "ack" && id == "":
			if !f.Queued || f.ID == "" {
				return r, fmt.Errorf("ack %s: want queued with an id", b)
			}
			id, r.ack = f.ID, time.Since(start)
		case f.Type == contract.FrameTypeDelivery && f.ID == id && id != "":
			var rep deliveryReport
			if err := json.Unmarshal(b, &rep); err != nil {
				return r, fmt.Errorf("delivery report %s: %w", b, err)
			}
			r.report = &rep
		case f.Type == "error":
			return r, fmt.Errorf("the sender got %s", b)
		}
	}

	// Every post was answered before the report, but a real client may
	// not have read its frame yet: wait until all have, 5 s at most.
	var real answer
	var virtualAfter map[string]int
	grace := time.Now().Add(5 * time.Second)
	for {
		var err error
		if real, err = s.clients.do(command{Op: "count", ID: id}); err != nil {
			return r, err
		}
		virtualAfter = g.VirtualCounts()
		r.missVrt, r.dupVirt = 0, 0
		for i := range s.virtual {
			switch d := virtualAfter[virtualID(i)] - virtualBefore[virtualID(i)]; {
			case d == 0:
				r.missVrt++
			case d > 1:
				r.dupVirt++
			}
		}
		if (real.Missed == 0 && r.missVrt == 0) || time.Now().After(grace) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	close(stop)
	<-pollDone
	after := g.PostStats()
	r.retries = after.Throttled - before.Throttled
	r.missReal, r.dupReal = real.Missed, real.Duplicated
	r.delivered = real.Once + real.Duplicated + s.virtual - r.missVrt
	last := max(real.LastUnixNano, lastVirtual.Load())
	r.last = time.Duration(last - start.UnixNano())
	return r, nil
}

// parseSizes reads "1000,10000,100000".
func parseSizes(s string) ([]int, error) {
	var sizes []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("broadcast sizes %q: %q is no positive number", s, f)
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}

// workerConfig is the fanout workers' configuration in the template.
type workerConfig struct {
	perWorker   float64 // WORKER_POSTS_PER_SECOND
	workers     int     // how many invocations the mapping runs at once (esm.Pollers)
	maxInFlight int     // MAX_IN_FLIGHT
	// The segment count's settings: FANOUT_SEGMENTS (0: computed),
	// CONNECTIONS_PER_SEGMENT, MAX_SEGMENTS.
	fixedSegments, perSegment, maxSegments int
}

// segments is about how many shards a broadcast to n connections has, as
// the split computes it (from an exact count here; the split's is
// approximate).
func (w workerConfig) segments(n int) int {
	switch {
	case w.fixedSegments > 0:
		return w.fixedSegments
	case w.perSegment <= 0:
		return 1
	}
	return min(max(1, (n+w.perSegment-1)/w.perSegment), max(w.maxSegments, 1))
}

// workerRates reads, from the assembly, the fanout workers' configured
// post rate, how many run at once and how many posts each has in flight:
// rate × workers is the most the fan-out asks of @connections.
func workerRates(dir string) (workerConfig, error) {
	asm, err := assembly.Load(dir)
	if err != nil {
		return workerConfig{}, fmt.Errorf("read the assembly: %w", err)
	}
	for _, m := range asm.EventSourceMappings {
		fn, ok := asm.Functions[m.FunctionID]
		if !ok {
			continue
		}
		v, ok := fn.Environment[contract.EnvWorkerPostsPerSecond].(string)
		if !ok {
			continue
		}
		w := workerConfig{workers: esm.Pollers(m.MaximumConcurrency), maxInFlight: 16}
		if w.perWorker, err = strconv.ParseFloat(v, 64); err != nil {
			return w, fmt.Errorf("%s %s=%q: %w", fn.ID, contract.EnvWorkerPostsPerSecond, v, err)
		}
		for name, dst := range map[string]*int{
			contract.EnvMaxInFlight:           &w.maxInFlight,
			contract.EnvFanOutSegments:        &w.fixedSegments,
			contract.EnvConnectionsPerSegment: &w.perSegment,
			contract.EnvMaxSegments:           &w.maxSegments,
		} {
			v, ok := fn.Environment[name].(string)
			if !ok {
				continue
			}
			if *dst, err = strconv.Atoi(v); err != nil || *dst < 0 {
				return w, fmt.Errorf("%s %s=%q: not a whole number", fn.ID, name, v)
			}
		}
		w.maxInFlight = max(w.maxInFlight, 1)
		return w, nil
	}
	return workerConfig{}, fmt.Errorf("no event source mapping invokes a function with %s in %s", contract.EnvWorkerPostsPerSecond, dir)
}
