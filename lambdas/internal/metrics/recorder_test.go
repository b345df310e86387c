package metrics

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"wsapi/contract"
	"wsapi/lambdas/internal/metrics/emftest"
	"wsapi/lambdas/internal/testutil"
)

var now = time.Date(2026, 11, 29, 1, 2, 3, 456_000_000, time.UTC)

func newTestEMF(w *bytes.Buffer, function string) (*EMF, *bytes.Buffer) {
	var logs bytes.Buffer
	e := New(w, "wsapi-test", function, slog.New(slog.NewJSONHandler(&logs, nil)))
	e.now = func() time.Time { return now }
	return e, &logs
}

func TestRecords(t *testing.T) {
	fn := []string{contract.DimensionFunction}
	fnReason := []string{contract.DimensionFunction, contract.DimensionReason}
	tests := []struct {
		name     string
		function string
		record   func(ctx context.Context, e *EMF)
		// directives: the metric names of each, and its dimension sets
		metrics    [][]string
		dimensions [][][]string
		values     map[string]float64
		units      map[string]string
		reason     string
	}{
		{
			name:     "fan-out",
			function: contract.FunctionMessage,
			record: func(ctx context.Context, e *EMF) {
				e.FanOut(ctx, FanOut{Recipients: 3, Delivered: 2, Stale: 1, Duration: 12345 * time.Microsecond, FrameBytes: 87})
			},
			metrics: [][]string{{contract.MetricRecipients, contract.MetricDelivered, contract.MetricStale,
				contract.MetricPostFailed, contract.MetricFanOutDuration, contract.MetricFrameBytes}},
			dimensions: [][][]string{{fn}},
			values: map[string]float64{contract.MetricRecipients: 3, contract.MetricDelivered: 2, contract.MetricStale: 1,
				contract.MetricPostFailed: 0, contract.MetricFanOutDuration: 12.345, contract.MetricFrameBytes: 87},
			units: map[string]string{contract.MetricRecipients: "Count", contract.MetricDelivered: "Count", contract.MetricStale: "Count",
				contract.MetricPostFailed: "Count", contract.MetricFanOutDuration: "Milliseconds", contract.MetricFrameBytes: "Bytes"},
		},
		{
			name:       "accepted",
			function:   contract.FunctionAuthorizer,
			record:     func(ctx context.Context, e *EMF) { e.Accepted(ctx) },
			metrics:    [][]string{{contract.MetricAuthAccepted, contract.MetricAuthRefused}},
			dimensions: [][][]string{{fn}},
			values:     map[string]float64{contract.MetricAuthAccepted: 1, contract.MetricAuthRefused: 0},
			units:      map[string]string{contract.MetricAuthAccepted: "Count", contract.MetricAuthRefused: "Count"},
		},
		{
			name:       "refused",
			function:   contract.FunctionAuthorizer,
			record:     func(ctx context.Context, e *EMF) { e.Refused(ctx, "expired") },
			metrics:    [][]string{{contract.MetricAuthAccepted}, {contract.MetricAuthRefused}},
			dimensions: [][][]string{{fn}, {fn, fnReason}},
			values:     map[string]float64{contract.MetricAuthAccepted: 0, contract.MetricAuthRefused: 1},
			units:      map[string]string{contract.MetricAuthAccepted: "Count", contract.MetricAuthRefused: "Count"},
			reason:     "expired",
		},
		{
			name:       "connected",
			function:   contract.FunctionConnect,
			record:     func(ctx context.Context, e *EMF) { e.Connected(ctx, true) },
			metrics:    [][]string{{contract.MetricConnected, contract.MetricConnectFailed}},
			dimensions: [][][]string{{fn}},
			values:     map[string]float64{contract.MetricConnected: 1, contract.MetricConnectFailed: 0},
			units:      map[string]string{contract.MetricConnected: "Count", contract.MetricConnectFailed: "Count"},
		},
		{
			name:       "connect failed",
			function:   contract.FunctionConnect,
			record:     func(ctx context.Context, e *EMF) { e.Connected(ctx, false) },
			metrics:    [][]string{{contract.MetricConnected, contract.MetricConnectFailed}},
			dimensions: [][][]string{{fn}},
			values:     map[string]float64{contract.MetricConnected: 0, contract.MetricConnectFailed: 1},
			units:      map[string]string{contract.MetricConnected: "Count", contract.MetricConnectFailed: "Count"},
		},
		{
			name:       "disconnected",
			function:   contract.FunctionDisconnect,
			record:     func(ctx context.Context, e *EMF) { e.Disconnected(ctx, true) },
			metrics:    [][]string{{contract.MetricDisconnected, contract.MetricDisconnectFailed}},
			dimensions: [][][]string{{fn}},
			values:     map[string]float64{contract.MetricDisconnected: 1, contract.MetricDisconnectFailed: 0},
			units:      map[string]string{contract.MetricDisconnected: "Count", contract.MetricDisconnectFailed: "Count"},
		},
		{
			name:       "disconnect failed",
			function:   contract.FunctionDisconnect,
			record:     func(ctx context.Context, e *EMF) { e.Disconnected(ctx, false) },
			metrics:    [][]string{{contract.MetricDisconnected, contract.MetricDisconnectFailed}},
			dimensions: [][][]string{{fn}},
			values:     map[string]float64{contract.MetricDisconnected: 0, contract.MetricDisconnectFailed: 1},
			units:      map[string]string{contract.MetricDisconnected: "Count", contract.MetricDisconnectFailed: "Count"},
		},
		{
			name:     "fanout shard",
			function: contract.FunctionFanOut,
			record: func(ctx context.Context, e *EMF) {
				e.Shard(ctx, Shard{Delivered: 5, Stale: 2, PostFailed: 1, PostThrottled: 4, Duration: 1500 * time.Microsecond})
			},
			metrics: [][]string{{contract.MetricDelivered, contract.MetricStale, contract.MetricPostFailed,
				contract.MetricPostThrottled, contract.MetricShardDuration}},
			dimensions: [][][]string{{fn}},
			values: map[string]float64{contract.MetricDelivered: 5, contract.MetricStale: 2, contract.MetricPostFailed: 1,
				contract.MetricPostThrottled: 4, contract.MetricShardDuration: 1.5},
			units: map[string]string{contract.MetricDelivered: "Count", contract.MetricStale: "Count", contract.MetricPostFailed: "Count",
				contract.MetricPostThrottled: "Count", contract.MetricShardDuration: "Milliseconds"},
		},
		{
			name:       "fanout job split",
			function:   contract.FunctionFanOut,
			record:     func(ctx context.Context, e *EMF) { e.JobSplit(ctx, 7) },
			metrics:    [][]string{{contract.MetricJobShards}},
			dimensions: [][][]string{{fn}},
			values:     map[string]float64{contract.MetricJobShards: 7},
			units:      map[string]string{contract.MetricJobShards: "Count"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			e, logs := newTestEMF(&out, tt.function)
			tt.record(context.Background(), e)
			if logs.Len() != 0 {
				t.Errorf("logged: %s", logs)
			}
			docs := emftest.Lines(t, out.String())
			if len(docs) != 1 {
				t.Fatalf("%d records, want 1:\n%s", len(docs), out.String())
			}
			d := docs[0]
			if d.Timestamp != now.UnixMilli() {
				t.Errorf("Timestamp %d, want %d", d.Timestamp, now.UnixMilli())
			}
			var gotMetrics [][]string
			var gotDims [][][]string
			for _, dir := range d.Directives {
				if dir.Namespace != "wsapi-test" {
					t.Errorf("Namespace %q", dir.Namespace)
				}
				gotMetrics = append(gotMetrics, dir.Metrics)
				gotDims = append(gotDims, dir.Dimensions)
			}
			if diff := cmp.Diff(tt.metrics, gotMetrics); diff != "" {
				t.Errorf("metrics (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.dimensions, gotDims); diff != "" {
				t.Errorf("dimension sets (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.values, d.Values()); diff != "" {
				t.Errorf("values (-want +got):\n%s", diff)
			}
			for name, unit := range tt.units {
				if got := d.Metrics[name].Unit; got != unit {
					t.Errorf("%s unit %q, want %q", name, got, unit)
				}
			}
			if got := d.Dimension(contract.DimensionFunction); got != tt.function {
				t.Errorf("Function %q, want %q", got, tt.function)
			}
			if got := d.Dimension(contract.DimensionReason); got != tt.reason {
				t.Errorf("Reason %q, want %q", got, tt.reason)
			}
			// Nothing but the dimensions and the metrics: no property
			// that could carry an id, principal or token.
			allowed := []string{contract.DimensionFunction, contract.DimensionReason}
			for name := range tt.values {
				allowed = append(allowed, name)
			}
			for k := range d.Root {
				if !slices.Contains(allowed, k) {
					t.Errorf("record has member %q", k)
				}
			}
		})
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("stdout closed") }

// TestWriteFailure checks that a record that cannot be written, or
// encoded, is logged and does not panic.
func TestWriteFailure(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	New(failingWriter{}, "ns", contract.FunctionConnect, log).Connected(context.Background(), true)

	var out bytes.Buffer
	New(&out, "AWS/Reserved", contract.FunctionConnect, log).Connected(context.Background(), true)
	if out.Len() != 0 {
		t.Errorf("wrote an invalid record: %s", out.String())
	}

	lines := testutil.LogLines(t, &logs)
	if len(lines) != 2 {
		t.Fatalf("logged %d lines, want 2: %s", len(lines), logs.String())
	}
	for i, want := range []string{"stdout closed", "reserved"} {
		l := lines[i]
		if l["level"] != "ERROR" || l["msg"] != "metrics record not written" || !strings.Contains(l["error"].(string), want) {
			t.Errorf("log line %v, want ERROR with an error containing %q", l, want)
		}
	}
}

// TestConcurrentRecords checks that records written at once stay one per
// line.
func TestConcurrentRecords(t *testing.T) {
	var out bytes.Buffer
	e, _ := newTestEMF(&out, contract.FunctionMessage)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() { e.FanOut(context.Background(), FanOut{Recipients: i, Delivered: i}) })
	}
	wg.Wait()
	docs := emftest.Lines(t, out.String())
	if len(docs) != 50 {
		t.Fatalf("%d records, want 50", len(docs))
	}
}

func TestNamespaceFromEnv(t *testing.T) {
	tests := []struct {
		value, want, wantErr string
	}{
		{"", DefaultNamespace, ""},
		{"  ", DefaultNamespace, ""},
		{"wsapi-prod", "wsapi-prod", ""},
		{" wsapi/dev ", "wsapi/dev", ""},
		{"AWS/Lambda", "", contract.EnvMetricsNamespace + ": "},
		{"bad,name", "", contract.EnvMetricsNamespace + ": "},
	}
	for _, tt := range tests {
		getenv := func(name string) string {
			if name == contract.EnvMetricsNamespace {
				return tt.value
			}
			return ""
		}
		got, err := NamespaceFromEnv(getenv)
		if got != tt.want || (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("NamespaceFromEnv(%q) = %q, %v; want %q, error %q", tt.value, got, err, tt.want, tt.wantErr)
		}
	}
	e, err := FromEnv(func(string) string { return "" }, contract.FunctionMessage, nil)
	if err != nil || e.namespace != DefaultNamespace || e.function != contract.FunctionMessage {
		t.Errorf("FromEnv() = %+v, %v", e, err)
	}
}

// TestExampleLine logs one real record, for the record.
func TestExampleLine(t *testing.T) {
	var out bytes.Buffer
	e, _ := newTestEMF(&out, contract.FunctionMessage)
	e.FanOut(context.Background(), FanOut{Recipients: 3, Delivered: 2, Stale: 1, Duration: 4200 * time.Microsecond, FrameBytes: 96})
	t.Log(strings.TrimSpace(out.String()))
}
