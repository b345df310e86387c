package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"wsapi/localrun/devissuer"
	"wsapi/localrun/runstate"
)

const testAudience = "wsapi-local-client"

// TestHelp: asking for help is a success, with the usage on stdout.
func TestHelp(t *testing.T) {
	for _, args := range [][]string{
		{"-h"}, {"--help"}, {"help"},
		{"dev", "-h"}, {"dev", "--help"},
		{"token", "-h"}, {"token", "--help"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if err := run(args, &stdout, &stderr); err != nil {
				t.Fatalf("run: %v", err)
			}
			if !strings.Contains(stdout.String(), "usage:") || stderr.Len() != 0 {
				t.Errorf("stdout %q, stderr %q; want the usage on stdout only", stdout.String(), stderr.String())
			}
		})
	}
}

// TestUsageErrors: mistakes fail, with the usage on stderr.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{nil, "a command is required"},
		{[]string{"serve"}, `unknown command "serve"`},
		{[]string{"dev", "--no-such-flag"}, "no-such-flag"},
		{[]string{"token", "--port", "x"}, "-port"},
		{[]string{"token", "--sub", "a", "extra"}, `unexpected argument "extra"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(tc.args, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("run = %v, want an error containing %q", err, tc.wantErr)
			}
			if !strings.Contains(stderr.String(), "usage:") || stdout.Len() != 0 {
				t.Errorf("stdout %q, stderr %q; want the usage on stderr only", stdout.String(), stderr.String())
			}
		})
	}
}

// TestLoopbackHost: only loopback literals and localhost pass; names that
// merely look local are refused without a lookup (loopbackHost has no
// resolver to call).
func TestLoopbackHost(t *testing.T) {
	for _, tc := range []struct {
		host, want string // want "" means refused
	}{
		{"127.0.0.1", "127.0.0.1"},
		{"127.1.2.3", "127.1.2.3"},
		{"127.255.255.254", "127.255.255.254"},
		{"::1", "::1"},
		{"0:0:0:0:0:0:0:1", "::1"},
		{"localhost", "127.0.0.1"},
		{"LOCALHOST", "127.0.0.1"}, // host names are case-insensitive
		{"127.example.invalid", ""},
		{"localhost.example", ""},
		{"localhost.", ""},
		{"0.0.0.0", ""},
		{"::", ""},
		{"10.0.0.1", ""},
		{"128.0.0.1", ""},
		{"::ffff:127.0.0.1", ""},
		{"::1%lo", ""},
		{"[::1]", ""},
		{"127.0.0.1:3001", ""},
		{"127.1", ""},
		{"0x7f.0.0.1", ""},
		{"", ""},
	} {
		got, err := loopbackHost(tc.host)
		if tc.want == "" {
			if err == nil {
				t.Errorf("loopbackHost(%q) = %q, want refused", tc.host, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("loopbackHost(%q) = %q, %v; want %q", tc.host, got, err, tc.want)
		}
	}
}

// fakeRun is a local run as the token command sees it: its issuer serving
// over TLS with the state directory's keys, and its record.
type fakeRun struct {
	port      int
	issuerURL string
	stop      func()
}

func startFakeRun(t *testing.T, state string) *fakeRun {
	t.Helper()
	iss, err := devissuer.Open(state)
	if err != nil {
		t.Fatal(err)
	}
	// The WebSocket port only names the run; holding it open keeps it unique.
	wsListener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuerURL := "https://" + ln.Addr().String()
	srv := &http.Server{Handler: iss.Handler(issuerURL), ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.Serve(tls.NewListener(ln, iss.TLSConfig())) }()
	port := wsListener.Addr().(*net.TCPAddr).Port
	reg, err := runstate.Register(state, runstate.Run{
		Port: port, URL: "ws://" + wsListener.Addr().String() + "/prod", IssuerURL: issuerURL,
		Audience: testAudience, PID: os.Getpid(),
	})
	if err != nil {
		t.Fatal(err)
	}
	r := &fakeRun{port: port, issuerURL: issuerURL}
	r.stop = func() {
		_ = reg.Close()
		_ = srv.Close()
		_ = wsListener.Close()
	}
	t.Cleanup(r.stop)
	return r
}

func mint(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(append([]string{"token"}, args...), &stdout, &stderr)
	return strings.TrimSpace(stdout.String()), err
}

// verify checks tok as the authorizer of the run at issuerURL would: its
// issuer, audience and signature against the key set served at keysFrom
// (issuerURL itself, unless that run has stopped).
func verify(t *testing.T, state, keysFrom, issuerURL, tok string) error {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join(state, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	defer client.CloseIdleConnections()
	resp, err := client.Get(keysFrom + "/.well-known/jwks.json")
	if err != nil {
		t.Fatalf("key set of %s: %v", keysFrom, err)
	}
	defer resp.Body.Close()
	var set json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	kf, err := keyfunc.NewJWKSetJSON(set)
	if err != nil {
		t.Fatal(err)
	}
	_, err = jwt.Parse(tok, kf.Keyfunc,
		jwt.WithValidMethods([]string{"ES256"}), jwt.WithIssuer(issuerURL), jwt.WithAudience(testAudience), jwt.WithExpirationRequired())
	return err
}

// TestTokenTwoRuns: two runs share a state directory. The token command
// asks which one while both live, mints for the one asked for, and after
// the second stops mints for the first, never for the dead one.
func TestTokenTwoRuns(t *testing.T) {
	state := t.TempDir()
	first, second := startFakeRun(t, state), startFakeRun(t, state)

	if _, err := mint(t, "--state", state, "--sub", "alice"); err == nil || !strings.Contains(err.Error(), "2 local runs are alive") || !strings.Contains(err.Error(), "--port") {
		t.Errorf("token without --port, two live runs: %v; want to be asked for --port", err)
	}
	for _, r := range []*fakeRun{first, second} {
		tok, err := mint(t, "--state", state, "--sub", "alice", "--port", strconv.Itoa(r.port))
		if err != nil {
			t.Fatalf("token --port %d: %v", r.port, err)
		}
		if err := verify(t, state, r.issuerURL, r.issuerURL, tok); err != nil {
			t.Errorf("token --port %d does not verify against its run: %v", r.port, err)
		}
	}

	second.stop()
	tok, err := mint(t, "--state", state, "--sub", "alice")
	if err != nil {
		t.Fatalf("token with one live run: %v", err)
	}
	if err := verify(t, state, first.issuerURL, first.issuerURL, tok); err != nil {
		t.Errorf("token for the surviving run does not verify against it: %v", err)
	}
	// Same keys, other issuer: the authorizer's iss check is what tells
	// the runs apart.
	if err := verify(t, state, first.issuerURL, second.issuerURL, tok); err == nil {
		t.Error("the token verifies as the stopped run's")
	}
	_, err = mint(t, "--state", state, "--sub", "alice", "--port", strconv.Itoa(second.port))
	if !errors.Is(err, runstate.ErrNotAlive) || !strings.Contains(err.Error(), "--port "+strconv.Itoa(first.port)) {
		t.Errorf("token for the stopped run: %v; want ErrNotAlive naming the live run", err)
	}
}

// TestTokenRefused: no token unless the run asked for is alive.
func TestTokenRefused(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setup   func(t *testing.T, state string) // nil: no state at all
		args    []string
		wantErr string
	}{
		{name: "no state directory", args: []string{"--sub", "a"}, wantErr: "no live local run in"},
		{name: "no state directory, --port", args: []string{"--sub", "a", "--port", "3001"}, wantErr: "no live local run on port 3001"},
		{name: "crashed run", setup: crashedRun, args: []string{"--sub", "a", "--port", "3001"},
			wantErr: "the run recorded there (pid 999999) has stopped (its process is gone); start it with make dev"},
		{name: "crashed run, no --port", setup: crashedRun, args: []string{"--sub", "a"}, wantErr: "no live local run in"},
		{name: "live lock, issuer not answering", setup: silentRun, args: []string{"--sub", "a", "--port", "3001"},
			wantErr: "does not answer as its record says"},
		{name: "no subject", setup: silentRun, args: []string{"--port", "3001"}, wantErr: "--sub is required"},
		{name: "bad port", args: []string{"--sub", "a", "--port", "70000"}, wantErr: "not a port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state := filepath.Join(t.TempDir(), "state")
			if tc.setup != nil {
				tc.setup(t, state)
			}
			tok, err := mint(t, append([]string{"--state", state}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("token = %q, %v; want an error containing %q", tok, err, tc.wantErr)
			}
			if tok != "" {
				t.Errorf("printed %q", tok)
			}
		})
	}
}

// crashedRun leaves what a killed run on port 3001 leaves: its record and
// a lock file nobody holds.
func crashedRun(t *testing.T, state string) {
	t.Helper()
	dir := filepath.Join(state, runstate.RunsDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join("testdata", "runs", "3001.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "3001.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "3001.lock"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
}

// silentRun registers a run on port 3001 whose issuer port answers nothing:
// a process that holds the lock but is not (or no longer) serving.
func silentRun(t *testing.T, state string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuerURL := "https://" + ln.Addr().String()
	ln.Close()
	reg, err := runstate.Register(state, runstate.Run{Port: 3001, URL: "ws://127.0.0.1:3001/prod", IssuerURL: issuerURL, Audience: testAudience, PID: os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Close() })
}

// TestMetricsIntervalFlag: a negative interval is refused before anything
// starts.
func TestMetricsIntervalFlag(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run([]string{"dev", "--metrics-interval", "-1s"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "--metrics-interval -1s") {
		t.Errorf("run: %v", err)
	}
	if err := run([]string{"dev", "--metrics-interval", "soon"}, &stdout, &stderr); err == nil {
		t.Error("an interval that is no duration accepted")
	}
}

// TestPostFlags: the @connections shaping flags are refused when negative
// (or a burst without a rate) before anything starts, and documented.
func TestPostFlags(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"--post-latency", "-1ms"}, "--post-latency -1ms"},
		{[]string{"--post-rate", "-5"}, "--post-rate -5"},
		{[]string{"--post-rate", "NaN"}, "--post-rate NaN"},
		{[]string{"--post-burst", "-1", "--post-rate", "10"}, "--post-burst -1"},
		{[]string{"--post-burst", "10"}, "--post-burst 10: needs --post-rate"},
		{[]string{"--post-latency", "soon"}, "post-latency"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(append([]string{"dev"}, tc.args...), &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("run = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
	var stdout, stderr bytes.Buffer
	if err := run([]string{"dev", "--help"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"-post-latency", "-post-rate", "429 LimitExceededException", "-post-burst"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("dev --help lacks %q:\n%s", want, stdout.String())
		}
	}
}

// TestMetricsReport: with an interval, the run's log reaches stderr as
// before and its EMF records the summary on stdout; a malformed record is
// logged at DEBUG. Without one, the log is stderr itself.
func TestMetricsReport(t *testing.T) {
	var stderr bytes.Buffer
	if logs, agg := metricsTap(&stderr, 0, slog.LevelDebug); logs != io.Writer(&stderr) || agg != nil {
		t.Errorf("interval 0: %T, %v; want stderr itself and no aggregator", logs, agg)
	}
	reportMetrics(nil, 0, io.Discard)() // no aggregator: nothing to stop

	const record = `[Message#1] {"_aws":{"Timestamp":1795917739728,"CloudWatchMetrics":[{"Namespace":"WebSocketApi","Dimensions":[["Function"]],"Metrics":[{"Name":"Recipients","Unit":"Count"},{"Name":"Delivered","Unit":"Count"},{"Name":"Stale","Unit":"Count"},{"Name":"PostFailed","Unit":"Count"}]}]},"Function":"message","Recipients":2,"Delivered":2,"Stale":0,"PostFailed":0}`
	// A broadcast: the message function's record posts nothing, the
	// fanout function's split and shard records do.
	const (
		queued = `[Message#1] {"_aws":{"Timestamp":1795917739730,"CloudWatchMetrics":[{"Namespace":"WebSocketApi","Dimensions":[["Function"]],"Metrics":[{"Name":"Recipients","Unit":"Count"},{"Name":"Delivered","Unit":"Count"},{"Name":"Stale","Unit":"Count"},{"Name":"PostFailed","Unit":"Count"}]}]},"Function":"message","Recipients":0,"Delivered":0,"Stale":0,"PostFailed":0}`
		split  = `[Fanout#1] {"_aws":{"Timestamp":1795917739740,"CloudWatchMetrics":[{"Namespace":"WebSocketApi","Dimensions":[["Function"]],"Metrics":[{"Name":"JobShards","Unit":"Count"}]}]},"Function":"fanout","JobShards":1}`
		shard  = `[Fanout#1] {"_aws":{"Timestamp":1795917739750,"CloudWatchMetrics":[{"Namespace":"WebSocketApi","Dimensions":[["Function"]],"Metrics":[{"Name":"Delivered","Unit":"Count"},{"Name":"Stale","Unit":"Count"},{"Name":"PostFailed","Unit":"Count"},{"Name":"PostThrottled","Unit":"Count"},{"Name":"ShardDuration","Unit":"Milliseconds"}]}]},"Function":"fanout","Delivered":2,"Stale":1,"PostFailed":0,"PostThrottled":3,"ShardDuration":4.5}`
	)
	logs, agg := metricsTap(&stderr, time.Hour, slog.LevelDebug)
	var stdout bytes.Buffer
	stop := reportMetrics(agg, time.Hour, &stdout)
	for _, line := range []string{record, record, queued, split, shard, `[Message#1] {"_aws":7}`, "time=... level=INFO msg=connected"} {
		fmt.Fprintln(logs, line)
	}
	stop()
	if got := stdout.String(); !strings.Contains(got, ": messages 3 (recipients 7, delivered 6, stale 1, post failures 0), fan-out jobs 1 (shards 1, shard runs 1, throttled posts 3)") ||
		!strings.Contains(got, "malformed 1") || strings.Count(got, "\n") != 1 {
		t.Errorf("stdout %q", got)
	}
	if got := stderr.String(); strings.Count(got, record) != 2 || !strings.Contains(got, "malformed EMF record") {
		t.Errorf("stderr %q", got)
	}
}
