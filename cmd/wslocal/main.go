// Command wslocal runs the synthesized WebSocket API on loopback (see
// package wsapi/localrun) and mints tokens its authorizer accepts.
//
//	wslocal dev   [--assembly cdk.dev.out] [--host 127.0.0.1] [--port 3001] [--issuer-port 3002]
//	              [--log-level info] [--dynamodb-endpoint URL] [--state .wslocal]
//	wslocal token --sub alice [--ttl 1h] [--state .wslocal]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"wsapi/localrun"
	"wsapi/localrun/devissuer"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "wslocal:", err)
		os.Exit(1)
	}
}

const usage = `usage:
  wslocal dev   [flags]   run the synthesized API on loopback
  wslocal token [flags]   print a token the local authorizer accepts
Run "wslocal dev -h" or "wslocal token -h" for the flags.`

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
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	fmt.Fprintln(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

func dev(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	assemblyDir := fs.String("assembly", "cdk.dev.out", "cloud assembly to run (make dev synthesizes it)")
	host := fs.String("host", "127.0.0.1", "loopback address to listen on")
	port := fs.Int("port", 3001, "WebSocket port")
	issuerPort := fs.Int("issuer-port", 3002, "port of the local OIDC issuer (https)")
	logLevel := fs.String("log-level", "info", "gateway log level: debug, info, warn or error")
	dynamoDB := fs.String("dynamodb-endpoint", "", "external DynamoDB API endpoint (default: an embedded one)")
	state := fs.String("state", ".wslocal", "directory for the issuer's keys and run.json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", *logLevel)
	}
	if !isLoopback(*host) {
		return fmt.Errorf("--host %q: the local run only listens on loopback addresses", *host)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := localrun.Start(ctx, localrun.Options{
		AssemblyDir: *assemblyDir, Host: *host, Port: *port, IssuerPort: *issuerPort,
		DynamoDBEndpoint: *dynamoDB, StateDir: *state, LogLevel: level, Logs: stderr,
	})
	if err != nil {
		return err
	}
	tok, err := srv.Token("alice", 12*time.Hour)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, `
WebSocket API running (stop with Ctrl-C)
  URL:       %s
  token:     %s   (subject alice, 12 h; another: go run ./cmd/wslocal token --sub bob)
  DynamoDB:  %s

Connect:
  npx wscat -c "%s?token=%s"
Then send:
  {"action":"sendmessage","message":"hello"}

`, srv.URL, tok, srv.DynamoDB, srv.URL, tok)

	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping: closing connections and functions")
	closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Close(closeCtx)
}

func token(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sub := fs.String("sub", "", "subject (principal) of the token; required")
	ttl := fs.Duration("ttl", time.Hour, "lifetime")
	email := fs.String("email", "", "email claim")
	state := fs.String("state", ".wslocal", "state directory of the running wslocal dev")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *sub == "" {
		return errors.New("--sub is required")
	}
	info, err := localrun.ReadRunInfo(*state)
	if err != nil {
		return err
	}
	issuer, err := devissuer.Open(*state)
	if err != nil {
		return err
	}
	tok, err := issuer.Token(info.IssuerURL, devissuer.Claims{Subject: *sub, Audience: info.Audience, Username: *sub, Email: *email, TTL: *ttl})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1" || len(host) > 4 && host[:4] == "127."
}
