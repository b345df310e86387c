// Command wsbench measures the local run (make bench runs it): round trips
// from a sendmessage to its ack at several client counts, a broadcast to many
// connections, and the same round trips against a bare WebSocket echo server
// on the same machine as the baseline. It prints figures; it asserts nothing.
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
	"slices"
	"sync"
	"time"

	"github.com/coder/websocket"

	"wsapi/contract"
	"wsapi/localrun"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "wsbench:", err)
		os.Exit(1)
	}
}

func run() error {
	assembly := flag.String("assembly", "cdk.bench.out", "cloud assembly synthesized for this machine without throttling (make bench builds it)")
	messages := flag.Int("messages", 200, "messages each client sends per round-trip run")
	broadcastTo := flag.Int("broadcast", 1000, "connections that receive the broadcast")
	flag.Parse()

	state, err := os.MkdirTemp("", "wsbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(state)
	ctx := context.Background()
	srv, err := localrun.Start(ctx, localrun.Options{AssemblyDir: *assembly, StateDir: state, Logs: io.Discard, MaxInstances: 8})
	if err != nil {
		return err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = srv.Close(closeCtx)
	}()
	echoURL, stopEcho, err := startEcho()
	if err != nil {
		return err
	}
	defer stopEcho()

	fmt.Printf("round trip: each client sends %d messages one at a time and waits for the reply\n", *messages)
	fmt.Println("(local run: sendmessage to a principal with no connection, so the ack measures the path, not a fan-out)")
	fmt.Printf("%-8s %-10s %10s %10s %12s\n", "clients", "server", "p50", "p99", "msgs/s")
	for _, clients := range []int{1, 10, 100} {
		local, err := roundTrips(srv, clients, *messages)
		if err != nil {
			return fmt.Errorf("local run, %d clients: %w", clients, err)
		}
		echo, err := roundTrips(echoServer(echoURL), clients, *messages)
		if err != nil {
			return fmt.Errorf("echo, %d clients: %w", clients, err)
		}
		local.print(clients, "local run")
		echo.print(clients, "echo")
		fmt.Printf("%-8d %-10s %9.1fx %9.1fx %11.2fx\n", clients, "ratio",
			ratio(local.p50, echo.p50), ratio(local.p99, echo.p99), echo.rate/local.rate)
	}

	took, acked, err := broadcast(srv, *broadcastTo)
	if err != nil {
		return fmt.Errorf("broadcast: %w", err)
	}
	fmt.Printf("\nbroadcast to %d connections: ack after %v, last delivery after %v (%.0f deliveries/s)\n",
		*broadcastTo, acked.Round(time.Millisecond), took.Round(time.Millisecond), float64(*broadcastTo)/took.Seconds())
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

// broadcast connects n receivers and one sender, and times one message
// until its ack and until the last receiver has it.
func broadcast(s *localrun.Server, n int) (total, ack time.Duration, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	receivers := make([]*websocket.Conn, n)
	for i := range receivers {
		if receivers[i], err = dialLocal(ctx, s, fmt.Sprintf("listener-%d", i)); err != nil {
			return 0, 0, fmt.Errorf("connection %d: %w", i, err)
		}
	}
	defer func() {
		for _, c := range receivers {
			_ = c.Close(websocket.StatusNormalClosure, "")
		}
	}()
	sender, err := dialLocal(ctx, s, "broadcaster")
	if err != nil {
		return 0, 0, err
	}
	defer sender.Close(websocket.StatusNormalClosure, "")

	var wg sync.WaitGroup
	var mu sync.Mutex
	var last time.Time
	start := time.Now()
	for _, c := range receivers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := c.Read(ctx); err == nil {
				now := time.Now()
				mu.Lock()
				if now.After(last) {
					last = now
				}
				mu.Unlock()
			}
		}()
	}
	if err := sender.Write(ctx, websocket.MessageText, []byte(`{"action":"`+contract.ActionSendMessage+`","message":"to everyone"}`)); err != nil {
		return 0, 0, err
	}
	_, reply, err := sender.Read(ctx)
	if err != nil {
		return 0, 0, err
	}
	ack = time.Since(start)
	var a struct{ Delivered int }
	if json.Unmarshal(reply, &a) != nil || a.Delivered != n {
		return 0, 0, fmt.Errorf("ack %s, want delivered=%d", reply, n)
	}
	wg.Wait()
	return last.Sub(start), ack, nil
}

// startEcho runs a bare WebSocket echo server with the same library: the
// floor any gateway on this machine can reach.
func startEcho() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	})}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "echo server:", err)
		}
	}()
	return "ws://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}
