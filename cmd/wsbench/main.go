// Command wsbench measures the local run (make bench runs it): round trips
// from a sendmessage to its ack at several client counts, against a bare
// WebSocket echo server on the same machine as the baseline; then
// broadcasts to 1,000, 10,000 and 100,000 connections (real WebSocket
// connections up to 10,000, virtual ones past that), each with no load
// injected on the @connections endpoint and with 20 ms per call and a 429
// rate limit; last, beside the largest broadcast, what posting alone costs
// (ceiling.go). It prints figures; it asserts nothing.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"slices"
	"sync"
	"time"

	"github.com/coder/websocket"

	"wsapi/contract"
	"wsapi/localrun"
	"wsapi/localrun/gateway"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "wsbench:", err)
		os.Exit(1)
	}
}

func run() error {
	assembly := flag.String("assembly", "cdk.bench.out", "cloud assembly synthesized for this machine without throttling (make bench builds it)")
	messages := flag.Int("messages", 200, "messages each client sends per round-trip run (0: no round-trip runs)")
	sizesFlag := flag.String("broadcast", "1000,10000,100000", "comma-separated recipient counts of the broadcast runs (empty: none)")
	realMax := flag.Int("real", 10000, "most real WebSocket recipients; past it, recipients are virtual")
	latency := flag.Duration("post-latency", 20*time.Millisecond, "injected latency per @connections call in the loaded runs")
	throttle := flag.Float64("post-rate", 0, "429 rate limit (requests/s) of the @connections endpoint in the loaded runs; 0: per size, half the least of the unloaded run's deliveries/s, the workers' rates together and what the workers a broadcast of that size keeps busy post under the latency (MAX_IN_FLIGHT each)")
	unloadedOnly := flag.Bool("unloaded-only", false, "skip the loaded (latency and 429) broadcast runs: a quicker measurement of the machine")
	flag.StringVar(&broadcastProfile, "broadcast-cpuprofile", "", "write a CPU profile of this process during the last unloaded broadcast run only (the gateway's, DynamoDB's and SQS's share of a broadcast) to this file")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of this process (gateway, DynamoDB, SQS; not the functions) to this file")
	clients := flag.Bool("clients", false, "internal: run as the client process of the broadcast runs")
	posters := flag.Bool("posters", false, "internal: run as a poster process of the ceiling runs")
	flag.Parse()
	if *clients {
		return runClients(os.Stdin, os.Stdout)
	}
	if *posters {
		return runPosters(os.Stdin, os.Stdout)
	}
	var sizes []int
	if *sizesFlag != "" {
		var err error
		if sizes, err = parseSizes(*sizesFlag); err != nil {
			return err
		}
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	limit := raiseFileLimit()
	if need := uint64(min(slices.Max(append(sizes, 0)), *realMax)) + 2500; limit > 0 && limit < need {
		return fmt.Errorf("the open-file limit is %d, %d real connections need about %d: lower -real", limit, *realMax, need)
	}

	state, err := os.MkdirTemp("", "wsbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(state)
	ctx := context.Background()
	srv, err := localrun.Start(ctx, localrun.Options{
		AssemblyDir: *assembly, StateDir: state, Logs: io.Discard, MaxInstances: 8,
		// Every real receiver holds one of the gateway's TCP connections;
		// the rest is for the functions' @connections clients (each
		// worker keeps MAX_IN_FLIGHT) and the round-trip clients.
		MaxConnections: *realMax + 2000,
	})
	if err != nil {
		return err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		_ = srv.Close(closeCtx)
	}()

	if *messages > 0 {
		if err := roundTripRuns(srv, *messages); err != nil {
			return err
		}
	}
	if len(sizes) == 0 {
		return nil
	}
	loaded := postLoad{name: "20ms+429", latency: *latency, rate: *throttle, autoRate: *throttle == 0}
	if loaded.latency != 20*time.Millisecond {
		loaded.name = loaded.latency.String() + "+429"
	}
	loaded.burst = gateway.PostBurst(loaded.rate, 0)
	w, err := workerRates(*assembly)
	if err != nil {
		return err
	}
	fmt.Printf("\nfan-out workers: %d at most (MaximumConcurrency), %.0f posts/s each, %.0f/s together, %d posts in flight each\n",
		w.workers, w.perWorker, w.perWorker*float64(w.workers), w.maxInFlight)
	loads := []postLoad{{name: "none"}, loaded}
	if *unloadedOnly {
		loads = loads[:1]
	}
	return runBroadcasts(ctx, srv, sizes, *realMax, loads, w)
}

// roundTripRuns compares the local run's round trip with the echo server's.
func roundTripRuns(srv *localrun.Server, messages int) error {
	echoURL, stopEcho, err := startEcho()
	if err != nil {
		return err
	}
	defer stopEcho()
	fmt.Printf("round trip: each client sends %d messages one at a time and waits for the reply\n", messages)
	fmt.Println("(local run: sendmessage to a principal with no connection, so the ack measures the path, not a fan-out)")
	fmt.Printf("%-8s %-10s %10s %10s %12s\n", "clients", "server", "p50", "p99", "msgs/s")
	for _, clients := range []int{1, 10, 100} {
		local, err := roundTrips(srv, clients, messages)
		if err != nil {
			return fmt.Errorf("local run, %d clients: %w", clients, err)
		}
		echo, err := roundTrips(echoServer(echoURL), clients, messages)
		if err != nil {
			return fmt.Errorf("echo, %d clients: %w", clients, err)
		}
		local.print(clients, "local run")
		echo.print(clients, "echo")
		fmt.Printf("%-8d %-10s %9.1fx %9.1fx %11.2fx\n", clients, "ratio",
			ratio(local.p50, echo.p50), ratio(local.p99, echo.p99), echo.rate/local.rate)
	}
	return nil
}

// echoServer is the baseline's URL.
type echoServer string

func (s echoServer) dial(ctx context.Context) (*websocket.Conn, error) {
	c, _, err := websocket.Dial(ctx, string(s), nil)
	return c, err
}

func dialLocal(ctx context.Context, s *localrun.Server, sub string) (*websocket.Conn, error) {
	tok, err := s.Token(sub, time.Hour)
	if err != nil {
		return nil, err
	}
	c, _, err := websocket.Dial(ctx, s.URL+"?token="+tok, nil)
	return c, err
}

// stats are one round-trip run's figures.
type stats struct {
	p50, p99 time.Duration
	rate     float64 // messages per second, all clients together
}

func (s stats) print(clients int, name string) {
	fmt.Printf("%-8d %-10s %10v %10v %12.0f\n", clients, name, s.p50.Round(time.Microsecond), s.p99.Round(time.Microsecond), s.rate)
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }

// roundTrips connects clients, then each sends messages one at a time,
// timing each until its reply (the ack from the local run, the echo from
// the baseline). Only the local run's other clients receive broadcasts, so
// every client drains those between replies.
func roundTrips(t any, clients, messages int) (stats, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	conns := make([]*websocket.Conn, clients)
	for i := range conns {
		var err error
		switch s := t.(type) {
		case *localrun.Server:
			conns[i], err = dialLocal(ctx, s, fmt.Sprintf("bench-%d", i))
		case echoServer:
			conns[i], err = s.dial(ctx)
		}
		if err != nil {
			return stats{}, err
		}
		conns[i].SetReadLimit(1 << 20)
	}
	defer func() {
		for _, c := range conns {
			_ = c.Close(websocket.StatusNormalClosure, "")
		}
	}()
	_, isLocal := t.(*localrun.Server)
	// Direct messages to oneself keep the work per message constant (no
	// broadcast fan-out), so the round trip measures the path, not N.
	latencies := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	start := time.Now()
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, _ := json.Marshal(map[string]string{"action": contract.ActionSendMessage, "message": "ping", "to": "nobody-" + fmt.Sprint(i)})
			for range messages {
				sent := time.Now()
				if err := c.Write(ctx, websocket.MessageText, body); err != nil {
					errs <- err
					return
				}
				for {
					_, reply, err := c.Read(ctx)
					if err != nil {
						errs <- err
						return
					}
					if !isLocal || isAck(reply) {
						break
					}
					if isGatewayError(reply) {
						errs <- fmt.Errorf("the gateway answered %s (synthesize with high throttling limits, as make bench does)", reply)
						return
					}
				}
				latencies[i] = append(latencies[i], time.Since(sent))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return stats{}, err
	}
	all := slices.Concat(latencies...)
	slices.Sort(all)
	return stats{
		p50:  all[len(all)/2],
		p99:  all[len(all)*99/100],
		rate: float64(len(all)) / elapsed.Seconds(),
	}, nil
}

func isAck(b []byte) bool {
	var m struct{ Type string }
	return json.Unmarshal(b, &m) == nil && m.Type == "ack"
}

// isGatewayError reports API Gateway's own error frames (throttling, say).
func isGatewayError(b []byte) bool {
	var m struct{ Message, ConnectionID string }
	return json.Unmarshal(b, &m) == nil && m.Message != "" && m.ConnectionID != ""
}

// startEcho runs a bare WebSocket echo server with the same library: the
// floor any gateway on this machine can reach.
func startEcho() (string, func(), error) {
	addr, stop, err := serveLoopback("echo server", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, b, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, b); err != nil {
				return
			}
		}
	}))
	return "ws://" + addr, stop, err
}

// serveLoopback serves h on a loopback port, and returns its address and
// what stops it; name is for the error printed if serving fails.
func serveLoopback(name string, h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: h}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, name+":", err)
		}
	}()
	return ln.Addr().String(), func() { _ = srv.Close() }, nil
}
