package metrics

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fanOut is a real record of the message function, as
// lambdas/internal/message's TestFanOutRecord logs it.
const fanOut = `{"_aws":{"Timestamp":1795917475662,"CloudWatchMetrics":[{"Namespace":"wsapi-test","Dimensions":[["Function"]],"Metrics":[{"Name":"Recipients","Unit":"Count"},{"Name":"Delivered","Unit":"Count"},{"Name":"Stale","Unit":"Count"},{"Name":"PostFailed","Unit":"Count"},{"Name":"FanOutDuration","Unit":"Milliseconds"},{"Name":"FrameBytes","Unit":"Bytes"}]}]},"Function":"message","Recipients":3,"Delivered":2,"Stale":1,"PostFailed":0,"FanOutDuration":0.38,"FrameBytes":103}`

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParse(t *testing.T) {
	spec := readFile(t, "spec-example.json")
	// The specification's example on one line, as a log event is.
	var compact bytes.Buffer
	for _, l := range bytes.Split(spec, []byte("\n")) {
		compact.Write(bytes.TrimSpace(l))
	}
	tests := []struct {
		name    string
		line    string
		want    Record
		wantErr string // "not EMF" for errNotEMF
	}{
		{"real fan-out record", fanOut, Record{
			Namespaces: []string{"wsapi-test"},
			Values:     map[string]float64{"Recipients": 3, "Delivered": 2, "Stale": 1, "PostFailed": 0, "FanOutDuration": 0.38, "FrameBytes": 103},
			Dimensions: map[string]string{"Function": "message"},
		}, ""},
		{"with the local run's prefix", "[Message#3] " + fanOut, Record{
			Namespaces: []string{"wsapi-test"},
			Values:     map[string]float64{"Recipients": 3, "Delivered": 2, "Stale": 1, "PostFailed": 0, "FanOutDuration": 0.38, "FrameBytes": 103},
			Dimensions: map[string]string{"Function": "message"},
		}, ""},
		{"the specification's example", compact.String(), Record{
			Namespaces: []string{"lambda-function-metrics"},
			Values:     map[string]float64{"time": 100},
			Dimensions: map[string]string{"functionVersion": "$LATEST"},
		}, ""},
		{"array values are summed", `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"Delivered"}]}]},"Delivered":[1,2,3.5]}`, Record{
			Namespaces: []string{"n"}, Values: map[string]float64{"Delivered": 6.5}, Dimensions: map[string]string{},
		}, ""},
		{"a metric named twice counts once", `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["Function"]],"Metrics":[{"Name":"AuthRefused"}]},{"Namespace":"n","Dimensions":[["Function","Reason"]],"Metrics":[{"Name":"AuthRefused"}]}]},"Function":"authorizer","Reason":"expired","AuthRefused":1}`, Record{
			Namespaces: []string{"n"}, Values: map[string]float64{"AuthRefused": 1}, Dimensions: map[string]string{"Function": "authorizer", "Reason": "expired"},
		}, ""},
		{"a root number no directive names is no metric", `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"Delivered"}]}]},"Delivered":1,"Stale":5}`, Record{
			Namespaces: []string{"n"}, Values: map[string]float64{"Delivered": 1}, Dimensions: map[string]string{},
		}, ""},

		{"a JSON log line", `[Message#1] {"time":"2026-01-01T00:00:00Z","level":"INFO","msg":"message sent"}`, Record{}, "not EMF"},
		{"a gateway text line", `time=2026-01-01T00:00:00Z level=INFO msg=connected component=gateway`, Record{}, "not EMF"},
		{"plain output", `[Connect#2] hello {"_aws"`, Record{}, "not EMF"},
		{"empty", ``, Record{}, "not EMF"},
		{"JSON that is no object", `[1,2]`, Record{}, "not EMF"},
		{"a message quoting _aws is no record", `{"msg":"\"_aws\" seen"}`, Record{}, "not EMF"},

		{"cut short", fanOut[:200], Record{}, "not one JSON object"},
		{"data after the object", fanOut + ` {}`, Record{}, "not one JSON object"},
		{"_aws not an object", `{"_aws":7}`, Record{}, "_aws"},
		{"no CloudWatchMetrics", `{"_aws":{"Timestamp":1}}`, Record{}, "CloudWatchMetrics: missing"},
		{"CloudWatchMetrics not an array", `{"_aws":{"Timestamp":1,"CloudWatchMetrics":{}}}`, Record{}, "_aws"},
		{"directive without Metrics", `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]]}]}}`, Record{}, "Metrics: missing"},
		{"metric without its member", `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"Delivered"}]}]}}`, Record{}, `metric "Delivered": the root has no member`},
		{"metric a string", `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"Delivered"}]}]},"Delivered":"2"}`, Record{}, `metric "Delivered": value`},
		{"metric array with a string", `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"Delivered"}]}]},"Delivered":[1,"2"]}`, Record{}, `metric "Delivered": value`},
		{"dimension not a string", `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["Function"]],"Metrics":[{"Name":"Delivered"}]}]},"Delivered":1,"Function":3}`, Record{}, `dimension "Function"`},
		{"dimension missing", `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["Function"]],"Metrics":[{"Name":"Delivered"}]}]},"Delivered":1}`, Record{}, `dimension "Function"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.line))
			switch {
			case tt.wantErr == "not EMF":
				if !IsNotEMF(err) {
					t.Fatalf("Parse: %v, %v; want no EMF record", got, err)
				}
			case tt.wantErr != "":
				if err == nil || IsNotEMF(err) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse: %v; want a malformed record, %q", err, tt.wantErr)
				}
			case err != nil:
				t.Fatalf("Parse: %v", err)
			default:
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("record (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestAggregator sums the records of a stretch of a real local run's log
// (testdata/local-run.log, see testdata/README.md).
func TestAggregator(t *testing.T) {
	tests := []struct {
		file       string
		want       Summary
		wantFormat string
	}{
		// Two broadcasts: the message function's records post nothing,
		// the fanout function's two posts each.
		{"local-run.log", Summary{
			Records: 15, Messages: 2, Recipients: 4, Delivered: 4,
			Jobs: 2, JobShards: 2, Shards: 2,
			AuthAccepted: 3, AuthRefused: 2, Reasons: map[string]float64{"expired": 1, "malformed": 1},
			Connected: 3, Disconnected: 1,
		}, "metrics 10s: messages 2 (recipients 4, delivered 4, stale 0, post failures 0), fan-out jobs 2 (shards 2, shard runs 2, throttled posts 0), connects 3 (failed 0), disconnects 1 (failed 0), auth accepted 3, auth refusals 2 (expired 1, malformed 1)"},
		// Two direct messages (recipients 4 + 3) and a broadcast whose two
		// shards tried 8 + 3 connections.
		{"stale-and-failures.log", Summary{
			Records: 8, Malformed: 2, Messages: 3, Recipients: 18, Delivered: 12, Stale: 4, PostFailed: 2,
			Jobs: 1, JobShards: 2, Shards: 2, PostThrottled: 4,
			ConnectFailed: 1, DisconnectFailed: 1,
		}, "metrics 10s: messages 3 (recipients 18, delivered 12, stale 4, post failures 2), fan-out jobs 1 (shards 2, shard runs 2, throttled posts 4), connects 0 (failed 1), disconnects 0 (failed 1), auth accepted 0, auth refusals 0, malformed 2"},
		{"no-records.log", Summary{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			var debug bytes.Buffer
			a := NewAggregator(slog.New(slog.NewTextHandler(&debug, &slog.HandlerOptions{Level: slog.LevelDebug})))
			// Line by line, as the local run writes.
			for _, line := range bytes.SplitAfter(readFile(t, tt.file), []byte("\n")) {
				if n, err := a.Write(line); n != len(line) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			got := a.Take()
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("summary (-want +got):\n%s", diff)
			}
			if got.Empty() != (tt.wantFormat == "") {
				t.Errorf("Empty() = %v", got.Empty())
			} else if !got.Empty() && got.Format("10s") != tt.wantFormat {
				t.Errorf("Format:\n got %s\nwant %s", got.Format("10s"), tt.wantFormat)
			}
			if n := strings.Count(debug.String(), "malformed EMF record"); n != tt.want.Malformed {
				t.Errorf("%d malformed records logged at DEBUG, want %d:\n%s", n, tt.want.Malformed, debug.String())
			}
			if again := a.Take(); !again.Empty() {
				t.Errorf("after Take: %+v", again)
			}
		})
	}
}

// TestAggregatorWrites: several lines in one Write, a last line without
// its newline, and concurrent writers.
func TestAggregatorWrites(t *testing.T) {
	a := NewAggregator(nil)
	_, _ = a.Write([]byte(fanOut + "\n" + "[Message#2] " + fanOut))
	if s := a.Take(); s.Messages != 2 || s.Delivered != 4 {
		t.Errorf("two lines in one Write: %+v", s)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				_, _ = a.Write([]byte("[Message#1] " + fanOut + "\n"))
			}
		})
	}
	wg.Wait()
	if s := a.Take(); s.Messages != 400 || s.Stale != 400 {
		t.Errorf("concurrent writes: %+v", s)
	}
}

// TestReport: one line per interval with records, none for a quiet one,
// and the rest when stopped.
func TestReport(t *testing.T) {
	a := NewAggregator(nil)
	var out syncBuffer
	stop, done := make(chan struct{}), make(chan struct{})
	_, _ = a.Write([]byte(fanOut + "\n"))
	go func() { a.Report(&out, 50*time.Millisecond, stop); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "metrics 50ms: messages 1 ") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(120 * time.Millisecond) // quiet intervals: nothing printed
	_, _ = a.Write([]byte(fanOut + "\n"))
	close(stop)
	<-done
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "metrics 50ms: messages 1 (recipients 3, delivered 2, stale 1") ||
		!strings.Contains(lines[1], "(last): messages 1 ") {
		t.Errorf("report:\n%s", out.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
