package boot

import (
	"context"
	"log/slog"
	"strings"
)

// StdLogWriter is an io.Writer for the standard library's log package that
// turns each line into one record of logger at WARN, so that what
// aws-lambda-go prints through package log (the echo of every error a
// handler returns, runtime API client failures) is JSON like every other
// line of the function. Lines for which drop reports true are discarded:
// a handler uses it for errors it has already logged in full.
type StdLogWriter struct {
	Logger *slog.Logger
	Drop   func(line string) bool
}

// Write logs one line; package log calls it once per message.
func (w StdLogWriter) Write(p []byte) (int, error) {
	line := strings.TrimRight(string(p), "\n")
	if w.Drop != nil && w.Drop(line) {
		return len(p), nil
	}
	w.Logger.LogAttrs(context.Background(), slog.LevelWarn, line, slog.String("source", "aws-lambda-go"))
	return len(p), nil
}
