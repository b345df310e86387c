package metrics

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"wsapi/contract"
	"wsapi/lambdas/internal/env"
)

// DefaultNamespace is the namespace when contract.EnvMetricsNamespace is
// unset or blank (see the package doc).
const DefaultNamespace = "WebSocketApi"

// NamespaceFromEnv returns the namespace in contract.EnvMetricsNamespace,
// DefaultNamespace when it is unset or blank, or an error when CloudWatch
// would refuse it.
func NamespaceFromEnv(getenv env.Getenv) (string, error) {
	ns := strings.TrimSpace(getenv(contract.EnvMetricsNamespace))
	if ns == "" {
		return DefaultNamespace, nil
	}
	if err := ValidNamespace(ns); err != nil {
		return "", &envError{err}
	}
	return ns, nil
}

type envError struct{ err error }

func (e *envError) Error() string { return contract.EnvMetricsNamespace + ": " + e.err.Error() }
func (e *envError) Unwrap() error { return e.err }

// FanOut is what one message invocation did. Delivered + Stale + PostFailed
// is Recipients when the listing completed.
type FanOut struct {
	// Recipients is how many connections the frame was addressed to: the
	// connections listed for the message, the sender's own excluded.
	Recipients int
	Delivered  int // posted
	Stale      int // 410 Gone; the row was removed (or left to the TTL)
	PostFailed int // any other failure
	// Duration covers listing and posting.
	Duration time.Duration
	// FrameBytes is the size of the frame posted to each recipient.
	FrameBytes int
}

// EMF writes records to w, one line each, for one function. It is the
// adapter behind the functions' metrics ports; it is safe for concurrent
// use.
type EMF struct {
	namespace string
	function  string
	log       *slog.Logger
	now       func() time.Time

	mu sync.Mutex
	w  io.Writer
}

// New returns an EMF that writes records of function (a contract.FunctionX
// value) in namespace to w. A record that cannot be encoded or written is
// logged at ERROR to log, never returned.
func New(w io.Writer, namespace, function string, log *slog.Logger) *EMF {
	if log == nil {
		log = slog.Default()
	}
	return &EMF{namespace: namespace, function: function, log: log, now: time.Now, w: w}
}

// FromEnv returns an EMF for function that writes to standard output in the
// namespace NamespaceFromEnv reads (see the package doc for why stdout).
func FromEnv(getenv env.Getenv, function string, log *slog.Logger) (*EMF, error) {
	ns, err := NamespaceFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	return New(os.Stdout, ns, function, log), nil
}

// FanOut writes the message function's record: Recipients, Delivered,
// Stale, PostFailed (Count), FanOutDuration (Milliseconds) and FrameBytes
// (Bytes), by Function.
func (e *EMF) FanOut(ctx context.Context, f FanOut) {
	e.emit(ctx,
		[]Definition{
			{contract.MetricRecipients, Count},
			{contract.MetricDelivered, Count},
			{contract.MetricStale, Count},
			{contract.MetricPostFailed, Count},
			{contract.MetricFanOutDuration, Milliseconds},
			{contract.MetricFrameBytes, Bytes},
		},
		[]Value{
			{contract.MetricRecipients, float64(f.Recipients)},
			{contract.MetricDelivered, float64(f.Delivered)},
			{contract.MetricStale, float64(f.Stale)},
			{contract.MetricPostFailed, float64(f.PostFailed)},
			{contract.MetricFanOutDuration, float64(f.Duration.Microseconds()) / 1000},
			{contract.MetricFrameBytes, float64(f.FrameBytes)},
		})
}

// Accepted writes the authorizer's record of an allowed connection:
// AuthAccepted 1 and AuthRefused 0, by Function.
func (e *EMF) Accepted(ctx context.Context) {
	e.emit(ctx,
		[]Definition{{contract.MetricAuthAccepted, Count}, {contract.MetricAuthRefused, Count}},
		[]Value{{contract.MetricAuthAccepted, 1}, {contract.MetricAuthRefused, 0}})
}

// Refused writes the authorizer's record of a refusal: AuthRefused 1 by
// Function and by Function and Reason, and AuthAccepted 0 by Function.
// reason must be one of the authorizer's fixed refusal reasons: it becomes
// a dimension value.
func (e *EMF) Refused(ctx context.Context, reason string) {
	rec := e.record(
		[]Value{{contract.MetricAuthAccepted, 0}, {contract.MetricAuthRefused, 1}},
		Directive{
			Namespace:  e.namespace,
			Dimensions: [][]string{{contract.DimensionFunction}},
			Metrics:    []Definition{{contract.MetricAuthAccepted, Count}},
		},
		Directive{
			Namespace:  e.namespace,
			Dimensions: [][]string{{contract.DimensionFunction}, {contract.DimensionFunction, contract.DimensionReason}},
			Metrics:    []Definition{{contract.MetricAuthRefused, Count}},
		},
	)
	rec.Fields = append(rec.Fields, Field{contract.DimensionReason, reason})
	e.write(ctx, rec)
}

// Connected writes the connect function's record: Connected and
// ConnectFailed, one of them 1, by Function.
func (e *EMF) Connected(ctx context.Context, ok bool) {
	e.outcome(ctx, ok, contract.MetricConnected, contract.MetricConnectFailed)
}

// Disconnected writes the disconnect function's record: Disconnected and
// DisconnectFailed, one of them 1, by Function.
func (e *EMF) Disconnected(ctx context.Context, ok bool) {
	e.outcome(ctx, ok, contract.MetricDisconnected, contract.MetricDisconnectFailed)
}

func (e *EMF) outcome(ctx context.Context, ok bool, success, failure string) {
	s, f := 0.0, 1.0
	if ok {
		s, f = 1, 0
	}
	e.emit(ctx,
		[]Definition{{success, Count}, {failure, Count}},
		[]Value{{success, s}, {failure, f}})
}

// emit writes one record with one directive, by Function.
func (e *EMF) emit(ctx context.Context, defs []Definition, values []Value) {
	e.write(ctx, e.record(values, Directive{
		Namespace:  e.namespace,
		Dimensions: [][]string{{contract.DimensionFunction}},
		Metrics:    defs,
	}))
}

func (e *EMF) record(values []Value, directives ...Directive) Record {
	return Record{
		Timestamp:  e.now(),
		Directives: directives,
		Fields:     []Field{{contract.DimensionFunction, e.function}},
		Values:     values,
	}
}

// write encodes rec and writes it with one Write call, so that it stays
// one line among the logger's (see the package doc).
func (e *EMF) write(ctx context.Context, rec Record) {
	line, err := Encode(rec)
	if err == nil {
		e.mu.Lock()
		_, err = e.w.Write(line)
		e.mu.Unlock()
	}
	if err != nil {
		e.log.ErrorContext(ctx, "metrics record not written", "error", err)
	}
}

// Nop records nothing; handlers use it when given no recorder.
type Nop struct{}

func (Nop) FanOut(context.Context, FanOut)     {}
func (Nop) Accepted(context.Context)           {}
func (Nop) Refused(context.Context, string)    {}
func (Nop) Connected(context.Context, bool)    {}
func (Nop) Disconnected(context.Context, bool) {}
