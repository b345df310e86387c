// Command wslocal runs the synthesized WebSocket API on loopback (see
// package wsapi/localrun) and mints tokens its authorizer accepts.
//
//	wslocal dev   [--assembly cdk.dev.out] [--host 127.0.0.1] [--port 3001] [--issuer-port 3002]
//	              [--log-level info] [--dynamodb-endpoint URL] [--state .wslocal]
//	              [--metrics-interval 0] [--post-latency 0] [--post-rate 0] [--post-burst 0]
//	wslocal token --sub alice [--port N] [--ttl 1h] [--email ADDR] [--state .wslocal]
//
// Several runs may share a state directory (with different ports): each
// records itself in <state>/runs/<port>.json while it runs (package
// wsapi/localrun/runstate). `wslocal token` mints for the run on --port;
// without --port, for the only live run, and it refuses to guess when there
// are several. It refuses too when that run is not alive: its process must
// hold the lock on its record (the kernel drops it when the process dies, so
// a crashed run's record is recognised and removed) and its issuer must
// answer, over TLS, with this state directory's key.
//
// --metrics-interval d (0, the default, is off) prints on stdout, every d,
// one line summing the CloudWatch EMF records the functions wrote to their
// logs in that interval (package wsapi/localrun/metrics); an interval in
// which no record was written prints nothing.
//
// --post-latency, --post-rate and --post-burst are for development and
// benchmarks: they shape the local @connections API as AWS's would look
// from a Lambda function, a round-trip delay on every answer and an
// account-level token bucket past which requests get 429
// LimitExceededException, so the fan-out's retries can be exercised.
//
// --host takes a loopback IP literal (127.0.0.0/8 or ::1) or localhost
// (any case, meaning 127.0.0.1); no name is ever resolved. -h or --help,
// for wslocal and for each command, prints the usage on stdout and exits 0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"wsapi/localrun"
	"wsapi/localrun/devissuer"
	"wsapi/localrun/metrics"
	"wsapi/localrun/runstate"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "wslocal:", err)
		os.Exit(1)
	}
}

const (
	defaultState = ".wslocal"
	// issuerCheckTimeout bounds the token command's look at the run's issuer,
	// which answers on loopback in milliseconds when it is alive.
	issuerCheckTimeout = 5 * time.Second
)

const usage = `usage:
  wslocal dev   [flags]   run the synthesized API on loopback
  wslocal token [flags]   print a token a running local API accepts
Run "wslocal dev -h" or "wslocal token -h" for the flags.`

const devUsage = `usage: wslocal dev [flags]

Runs the synthesized API on loopback until interrupted. Several runs may
share --state if their ports differ.

flags:`

const tokenUsage = `usage: wslocal token --sub NAME [--port N] [flags]

Prints a token the local run on --port accepts. Without --port: the only
live run in --state; with several, --port is required.

flags:`

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return errors.New("a command is required")
	}
	switch args[0] {
	case "dev":
		return dev(args[1:], stdout, stderr)
	case "token":
		return token(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	fmt.Fprintln(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// errHelp says the usage was asked for and printed: the command exits 0.
var errHelp = errors.New("help requested")

// parse parses a command's flags. Asked for help, it prints the usage on
// stdout and returns errHelp; on a mistake, the usage goes to stderr.
func parse(fs *flag.FlagSet, header string, args []string, stdout, stderr io.Writer) error {
	printUsage := func(w io.Writer) {
		fmt.Fprintln(w, header)
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	// flag's own messages are silenced: the error is returned to main,
	// which prints it once.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		printUsage(stdout)
		return errHelp
	case err != nil:
		printUsage(stderr)
		return err
	case fs.NArg() > 0:
		printUsage(stderr)
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

func dev(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	assemblyDir := fs.String("assembly", "cdk.dev.out", "cloud assembly to run (make dev synthesizes it)")
	host := fs.String("host", "127.0.0.1", "loopback IP address to listen on (127.0.0.0/8 or ::1), or localhost")
	port := fs.Int("port", 3001, "WebSocket port; names this run for wslocal token --port")
	issuerPort := fs.Int("issuer-port", 3002, "port of the local OIDC issuer (https)")
	logLevel := fs.String("log-level", "info", "gateway log level: debug, info, warn or error")
	dynamoDB := fs.String("dynamodb-endpoint", "", "external DynamoDB API endpoint (default: an embedded one)")
	state := fs.String("state", defaultState, "directory for the issuer's keys (shared) and the runs' records (runs/<port>.json)")
	metricsInterval := fs.Duration("metrics-interval", 0, "print a summary of the functions' EMF metrics every interval, e.g. 10s (0: off)")
	postLatency := fs.Duration("post-latency", 0, "dev: delay every @connections answer (POST, GET, DELETE) by this much, e.g. 20ms, as the round trip to AWS's endpoint costs a function (0: none)")
	postRate := fs.Float64("post-rate", 0, "dev: @connections requests per second allowed; past it they get 429 LimitExceededException, as when AWS throttles the account (0: unlimited)")
	postBurst := fs.Int("post-burst", 0, "dev: burst of --post-rate's token bucket (0: a tenth of a second's worth, at least 1)")
	if err := parse(fs, devUsage, args, stdout, stderr); err != nil {
		return helpIsSuccess(err)
	}
	if *metricsInterval < 0 {
		return fmt.Errorf("--metrics-interval %v: want a positive duration, or 0 for off", *metricsInterval)
	}
	if err := checkPostFlags(*postLatency, *postRate, *postBurst); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", *logLevel)
	}
	listenHost, err := loopbackHost(*host)
	if err != nil {
		return fmt.Errorf("--host %q: %w", *host, err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logs, agg := metricsTap(stderr, *metricsInterval, level)
	srv, err := localrun.Start(ctx, localrun.Options{
		AssemblyDir: *assemblyDir, Host: listenHost, Port: *port, IssuerPort: *issuerPort,
		DynamoDBEndpoint: *dynamoDB, StateDir: *state, LogLevel: level, Logs: logs,
		PostLatency: *postLatency, PostRateLimit: *postRate, PostBurst: *postBurst,
	})
	if err != nil {
		return err
	}
	tok, err := srv.Token("alice", 12*time.Hour)
	if err != nil {
		_ = srv.Close(context.Background())
		return err
	}
	fmt.Fprintf(stdout, `
WebSocket API running (stop with Ctrl-C)
  URL:       %s
  token:     %s   (subject alice, 12 h; another: go run wsapi/cmd/wslocal token %s--sub bob)
  DynamoDB:  %s
  SQS:       %s
  chat page: %s (local run only, never deployed)

Connect:
  npx wscat -c "%s?token=%s"
Then send:
  {"action":"sendmessage","message":"hello"}

`, srv.URL, tok, tokenFlags(srv.URL, *state), srv.DynamoDB, srv.SQS, pageURL(srv.URL), srv.URL, tok)
	stopReport := reportMetrics(agg, *metricsInterval, stdout)

	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping: closing connections and functions")
	closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Close(closeCtx)
	// After Close: the records of the last $disconnects are counted.
	stopReport()
	return err
}

// checkPostFlags refuses negative values before anything starts.
func checkPostFlags(latency time.Duration, rate float64, burst int) error {
	switch {
	case latency < 0:
		return fmt.Errorf("--post-latency %v: want a positive duration, or 0 for none", latency)
	case rate < 0 || math.IsNaN(rate) || math.IsInf(rate, 0):
		return fmt.Errorf("--post-rate %v: want a positive rate, or 0 for unlimited", rate)
	case burst < 0:
		return fmt.Errorf("--post-burst %d: want a positive burst, or 0 for the default", burst)
	case burst > 0 && rate == 0:
		return fmt.Errorf("--post-burst %d: needs --post-rate", burst)
	}
	return nil
}

// metricsTap returns the writer for the run's logs: stderr, and with a
// metrics interval also an aggregator of the EMF records in them, whose
// malformed records are logged at DEBUG to stderr.
func metricsTap(stderr io.Writer, interval time.Duration, level slog.Level) (io.Writer, *metrics.Aggregator) {
	if interval == 0 {
		return stderr, nil
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})).With("component", "metrics")
	agg := metrics.NewAggregator(log)
	return io.MultiWriter(stderr, agg), agg
}

// reportMetrics prints agg's summary on stdout every interval until the
// returned function is called, which prints what is left and returns once
// the report has stopped. With no aggregator it does nothing.
func reportMetrics(agg *metrics.Aggregator, interval time.Duration, stdout io.Writer) (stop func()) {
	if agg == nil {
		return func() {}
	}
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		agg.Report(stdout, interval, quit)
	}()
	return func() {
		close(quit)
		<-done
	}
}

// pageURL is the dev chat page (package localrun/devpage) of the run at
// wsURL: the same origin, over http.
func pageURL(wsURL string) string {
	u, err := url.Parse(wsURL)
	if err != nil {
		return ""
	}
	return "http://" + u.Host + "/"
}

// tokenFlags are the token command's flags that pick the run at wsURL.
func tokenFlags(wsURL, state string) string {
	flags := ""
	if u, err := url.Parse(wsURL); err == nil && u.Port() != "" {
		flags = "--port " + u.Port() + " "
	}
	if state != defaultState {
		flags += "--state " + state + " "
	}
	return flags
}

func helpIsSuccess(err error) error {
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

func token(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	sub := fs.String("sub", "", "subject (principal) of the token; required")
	port := fs.Int("port", 0, "WebSocket port of the run to mint for (default: the only live run)")
	ttl := fs.Duration("ttl", time.Hour, "lifetime")
	email := fs.String("email", "", "email claim")
	state := fs.String("state", defaultState, "state directory of the running wslocal dev")
	if err := parse(fs, tokenUsage, args, stdout, stderr); err != nil {
		return helpIsSuccess(err)
	}
	if *sub == "" {
		return errors.New("--sub is required")
	}
	if *port < 0 || *port > 65535 {
		return fmt.Errorf("--port %d: not a port", *port)
	}
	target, err := pickRun(*state, *port)
	if err != nil {
		return err
	}
	issuer, err := devissuer.Open(*state)
	if err != nil {
		return err
	}
	// The lock says the process lives; the issuer answering with our key
	// says the token will verify there.
	ctx, cancel := context.WithTimeout(context.Background(), issuerCheckTimeout)
	defer cancel()
	if err := issuer.CheckServing(ctx, target.IssuerURL); err != nil {
		return fmt.Errorf("the local run on port %d (pid %d) does not answer as its record says, so no token: %w", target.Port, target.PID, err)
	}
	tok, err := issuer.Token(target.IssuerURL, devissuer.Claims{Subject: *sub, Audience: target.Audience, Username: *sub, Email: *email, TTL: *ttl})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

// pickRun finds the live run the token is for: the one on port, or with
// port 0 the only live one.
func pickRun(state string, port int) (runstate.Run, error) {
	runs, err := runstate.List(state)
	if err != nil {
		return runstate.Run{}, err
	}
	var live []string
	var only runstate.Run
	for _, r := range runs {
		if r.Alive {
			live = append(live, strconv.Itoa(r.Port))
			only = r.Run
		}
	}
	if port != 0 {
		for _, r := range runs {
			switch {
			case r.Port != port:
			case r.Alive:
				return r.Run, nil
			default:
				return runstate.Run{}, fmt.Errorf("%w on port %d in %s: the run recorded there (pid %d) has stopped (%s)%s",
					runstate.ErrNotAlive, port, state, r.PID, r.Stale, liveHint(live))
			}
		}
		return runstate.Run{}, fmt.Errorf("%w on port %d in %s%s", runstate.ErrNotAlive, port, state, liveHint(live))
	}
	switch len(live) {
	case 0:
		return runstate.Run{}, fmt.Errorf("%w in %s; start one with make dev", runstate.ErrNotAlive, state)
	case 1:
		return only, nil
	}
	return runstate.Run{}, fmt.Errorf("%d local runs are alive in %s (ports %s): choose one with --port", len(live), state, strings.Join(live, ", "))
}

// liveHint names the live runs, or says how to start one.
func liveHint(live []string) string {
	if len(live) == 0 {
		return "; start it with make dev"
	}
	return "; live runs: --port " + strings.Join(live, ", --port ")
}

// loopbackHost checks --host and returns the IP literal to listen on. Only
// literals are accepted, so nothing is resolved: a name that merely looks
// local (127.example.invalid, localhost.example) could resolve anywhere.
// localhost, in any case, is 127.0.0.1, the way RFC 6761 reserves it,
// without asking a resolver whose configuration may say otherwise.
func loopbackHost(host string) (string, error) {
	if strings.EqualFold(host, "localhost") {
		return "127.0.0.1", nil
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return "", errors.New("want a loopback IP address (127.0.0.0/8 or ::1) or localhost; names are not resolved")
	}
	// 127/8 and ::1 only: not ::ffff:127.0.0.1 (an IPv6 socket that
	// reaches IPv4) nor a zone, which loopback has no use for.
	if addr.Zone() != "" || !(addr.Is4() && addr.IsLoopback() || addr == netip.IPv6Loopback()) {
		return "", errors.New("the local run listens on loopback only: 127.0.0.0/8, ::1 or localhost")
	}
	return addr.String(), nil
}
