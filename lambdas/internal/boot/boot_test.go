package boot

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"testing"

	"wsapi/lambdas/internal/testutil"
)

type nopHandler struct{}

func (nopHandler) Handle(context.Context, string) (string, error) { return "", nil }

// TestRunFailedSetup runs Run with a failing setup in a child process, as
// a function's cold start would, and checks its one log line and exit code.
func TestRunFailedSetup(t *testing.T) {
	if os.Getenv("BOOT_TEST_CHILD") == "1" {
		Run(func(ctx context.Context, log *slog.Logger) (nopHandler, error) {
			if ctx == nil || log == nil {
				return nopHandler{}, errors.New("setup got no context or logger")
			}
			return nopHandler{}, errors.New("boom")
		})
		return // not reached: Run exits
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestRunFailedSetup$")
	cmd.Env = append(os.Environ(), "BOOT_TEST_CHILD=1", "AWS_LAMBDA_LOG_FORMAT=JSON", "AWS_LAMBDA_LOG_LEVEL=INFO")
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("child exited with %v, want exit status 1; stdout:\n%s", err, stdout.String())
	}
	lines := testutil.LogLines(t, &stdout)
	if len(lines) != 1 {
		t.Fatalf("logged %d lines, want 1: %s", len(lines), stdout.String())
	}
	if l := lines[0]; l["level"] != "ERROR" || l["message"] != "cold start failed" || l["error"] != "boom" {
		t.Errorf("log line %v: want ERROR \"cold start failed\" with error \"boom\"", l)
	}
}
