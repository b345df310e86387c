package metrics

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"wsapi/contract"
	"wsapi/lambdas/internal/metrics/emftest"
)

func TestFanOutRecords(t *testing.T) {
	tests := []struct {
		name   string
		record func(ctx context.Context, e *EMF)
		values map[string]float64
		units  map[string]string
	}{
		{
			name: "shard",
			record: func(ctx context.Context, e *EMF) {
				e.Shard(ctx, Shard{Delivered: 5, Stale: 2, PostFailed: 1, PostThrottled: 4, Duration: 1500 * time.Microsecond})
			},
			values: map[string]float64{contract.MetricDelivered: 5, contract.MetricStale: 2, contract.MetricPostFailed: 1,
				contract.MetricPostThrottled: 4, contract.MetricShardDuration: 1.5},
			units: map[string]string{contract.MetricDelivered: "Count", contract.MetricStale: "Count", contract.MetricPostFailed: "Count",
				contract.MetricPostThrottled: "Count", contract.MetricShardDuration: "Milliseconds"},
		},
		{
			name:   "job split",
			record: func(ctx context.Context, e *EMF) { e.JobSplit(ctx, 7) },
			values: map[string]float64{contract.MetricJobShards: 7},
			units:  map[string]string{contract.MetricJobShards: "Count"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			e, logs := newTestEMF(&out, contract.FunctionFanOut)
			tt.record(context.Background(), e)
			if logs.Len() != 0 {
				t.Errorf("logged: %s", logs)
			}
			docs := emftest.Lines(t, out.String())
			if len(docs) != 1 {
				t.Fatalf("%d records, want 1:\n%s", len(docs), out.String())
			}
			d := docs[0]
			if diff := cmp.Diff(tt.values, d.Values()); diff != "" {
				t.Errorf("values (-want +got):\n%s", diff)
			}
			for name, unit := range tt.units {
				if got := d.Metrics[name].Unit; got != unit {
					t.Errorf("%s unit %q, want %q", name, got, unit)
				}
			}
			if got := d.Dimension(contract.DimensionFunction); got != contract.FunctionFanOut {
				t.Errorf("Function %q", got)
			}
			if len(d.Root) != len(tt.values)+1 {
				t.Errorf("record has members %v, want only the metrics and Function", d.Root)
			}
		})
	}
}
