package disconnect

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"wsapi/contract"
	"wsapi/lambdas/internal/connections"
	"wsapi/lambdas/internal/metrics"
	"wsapi/lambdas/internal/metrics/emftest"
	"wsapi/lambdas/internal/testutil"
)

// fakeMetrics keeps the outcomes recorded.
type fakeMetrics struct{ got []bool }

var _ Metrics = (*fakeMetrics)(nil)

func (f *fakeMetrics) Disconnected(_ context.Context, ok bool) { f.got = append(f.got, ok) }

// fakeStore is an in-memory table: deleting a missing row succeeds, as
// DynamoDB's unconditional DeleteItem does.
type fakeStore struct {
	rows    map[string]bool
	err     error
	deleted []string
}

func (f *fakeStore) Delete(_ context.Context, id string) error {
	f.deleted = append(f.deleted, id)
	if f.err != nil {
		return f.err
	}
	delete(f.rows, id)
	return nil
}

func TestHandle(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name        string
		edit        func(*connections.DisconnectEvent)
		rows        []string
		storeErr    error
		wantDeletes []string
		wantErr     error
		wantLevel   string
	}{
		{name: "removed", rows: []string{"L0SM9cOFvHcCIhw=", "other"}, wantDeletes: []string{"L0SM9cOFvHcCIhw="}, wantLevel: "INFO"},
		{name: "already gone", rows: []string{"other"}, wantDeletes: []string{"L0SM9cOFvHcCIhw="}, wantLevel: "INFO"},
		{name: "store fails", rows: []string{"L0SM9cOFvHcCIhw="}, storeErr: boom, wantDeletes: []string{"L0SM9cOFvHcCIhw="}, wantErr: boom, wantLevel: "ERROR"},
		{name: "no connection id", edit: func(ev *connections.DisconnectEvent) { ev.ConnectionID = "" }, wantLevel: "ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := testutil.DecodeStrict[connections.DisconnectEvent](t, "testdata/disconnect.json")
			if tt.edit != nil {
				tt.edit(&ev)
			}
			store := &fakeStore{rows: map[string]bool{}, err: tt.storeErr}
			for _, id := range tt.rows {
				store.rows[id] = true
			}
			var logs bytes.Buffer
			m := &fakeMetrics{}
			h := New(store, m, slog.New(slog.NewJSONHandler(&logs, nil)))
			ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "aws-req-2"})

			resp, err := h.Handle(ctx, ev)

			failed := tt.wantLevel == "ERROR"
			if (err != nil) != failed || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Fatalf("Handle() error = %v, want failure %t (%v)", err, failed, tt.wantErr)
			}
			if !failed && resp != connections.OK {
				t.Errorf("Handle() = %+v, want %+v", resp, connections.OK)
			}
			if want := []bool{!failed}; !slices.Equal(m.got, want) {
				t.Errorf("recorded outcomes %v, want %v", m.got, want)
			}
			if !slices.Equal(store.deleted, tt.wantDeletes) {
				t.Errorf("deleted %q, want %q", store.deleted, tt.wantDeletes)
			}
			if !failed && store.rows[ev.ConnectionID] {
				t.Errorf("row %s is still there", ev.ConnectionID)
			}
			lines := testutil.LogLines(t, &logs)
			if len(lines) != 1 {
				t.Fatalf("logged %d lines, want 1: %s", len(lines), logs.String())
			}
			line := lines[0]
			if line["level"] != tt.wantLevel || line["apiRequestId"] != "L0SQDFmrvHcFmXA=" || line["awsRequestId"] != "aws-req-2" {
				t.Errorf("log line %v: want level %s with both request ids", line, tt.wantLevel)
			}
		})
	}
}

func TestHandleTwice(t *testing.T) {
	store := &fakeStore{rows: map[string]bool{"L0SM9cOFvHcCIhw=": true}}
	h := New(store, nil, slog.New(slog.DiscardHandler))
	ev := testutil.DecodeStrict[connections.DisconnectEvent](t, "testdata/disconnect.json")
	for i := range 2 {
		if _, err := h.Handle(context.Background(), ev); err != nil {
			t.Fatalf("disconnect #%d: %v", i+1, err)
		}
	}
}

func TestConfigFromEnv(t *testing.T) {
	testutil.RunConfigTests(t, ConfigFromEnv, []testutil.ConfigTest[Config]{
		{Name: "set", Env: map[string]string{"TABLE_NAME": "conns"}, Want: Config{TableName: "conns"}},
		{Name: "unset", Env: map[string]string{}, WantErr: []string{"TABLE_NAME is not set"}},
	})
}

// TestRecords runs a removal and a failure through the EMF recorder and
// reads the records back as CloudWatch would.
func TestRecords(t *testing.T) {
	var out bytes.Buffer
	m := metrics.New(&out, "wsapi-test", contract.FunctionDisconnect, slog.New(slog.DiscardHandler))
	ev := testutil.DecodeStrict[connections.DisconnectEvent](t, "testdata/disconnect.json")
	_, _ = New(&fakeStore{rows: map[string]bool{}}, m, slog.New(slog.DiscardHandler)).Handle(context.Background(), ev)
	_, _ = New(&fakeStore{err: errors.New("boom")}, m, slog.New(slog.DiscardHandler)).Handle(context.Background(), ev)

	docs := emftest.Lines(t, out.String())
	want := []map[string]float64{
		{contract.MetricDisconnected: 1, contract.MetricDisconnectFailed: 0},
		{contract.MetricDisconnected: 0, contract.MetricDisconnectFailed: 1},
	}
	if len(docs) != len(want) {
		t.Fatalf("%d records, want %d: %s", len(docs), len(want), out.String())
	}
	for i, d := range docs {
		got := d.Values()
		for k, v := range want[i] {
			if got[k] != v || len(got) != len(want[i]) {
				t.Errorf("record %d: metrics %v, want %v", i, got, want[i])
			}
		}
		if len(d.Root) != 3 || d.Dimension(contract.DimensionFunction) != contract.FunctionDisconnect {
			t.Errorf("record %d: members %v", i, d.Root)
		}
		for _, dir := range d.Directives {
			if len(dir.Dimensions) != 1 || len(dir.Dimensions[0]) != 1 || dir.Dimensions[0][0] != contract.DimensionFunction {
				t.Errorf("record %d: dimension sets %q", i, dir.Dimensions)
			}
		}
	}
	if strings.Contains(out.String(), ev.ConnectionID) || strings.Contains(out.String(), ev.RequestID) {
		t.Errorf("records hold the connection or request id: %s", out.String())
	}
}
