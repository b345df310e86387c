package lambdaruntime

import (
	"bytes"
	"strings"
	"sync"
	"testing"
)

// writes records each Write call separately.
type writes struct{ calls []string }

func (w *writes) Write(p []byte) (int, error) {
	w.calls = append(w.calls, string(p))
	return len(p), nil
}

// emfRecord is a record of the authorizer, as the local run logged it.
const emfRecord = `{"_aws":{"Timestamp":1795917739599,"CloudWatchMetrics":[{"Namespace":"WebSocketApi","Dimensions":[["Function"]],"Metrics":[{"Name":"AuthAccepted","Unit":"Count"}]},{"Namespace":"WebSocketApi","Dimensions":[["Function"],["Function","Reason"]],"Metrics":[{"Name":"AuthRefused","Unit":"Count"}]}]},"Function":"authorizer","Reason":"expired","AuthAccepted":0,"AuthRefused":1}`

func TestLineWriter(t *testing.T) {
	long := strings.Repeat("x", maxLineBytes)
	tests := []struct {
		name   string
		chunks []string
		want   []string // one entry per Write on the sink
	}{
		{"whole lines", []string{"a\nb\n"}, []string{"[f#1] a\n", "[f#1] b\n"}},
		{"line split across writes", []string{"he", "llo\nwor", "ld\n"}, []string{"[f#1] hello\n", "[f#1] world\n"}},
		{"empty line", []string{"\n"}, []string{"[f#1] \n"}},
		{"partial line flushed at the end", []string{"done"}, []string{"[f#1] done\n"}},
		{"overlong line cut", []string{long, "y\n"}, []string{"[f#1] " + long + "\n", "[f#1] y\n"}},
		// An EMF record (lambdas/internal/metrics) is one Write of its own
		// line; it stays whole, after the prefix, byte for byte.
		{"an EMF record stays whole", []string{`{"level":"INFO"}` + "\n" + emfRecord[:40], emfRecord[40:] + "\n"},
			[]string{`[f#1] {"level":"INFO"}` + "\n", "[f#1] " + emfRecord + "\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &writes{}
			lw := &lineWriter{mu: &sync.Mutex{}, out: sink, prefix: "[f#1] "}
			for _, c := range tt.chunks {
				if n, err := lw.Write([]byte(c)); n != len(c) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			lw.flush()
			if len(sink.calls) != len(tt.want) {
				t.Fatalf("writes %q, want %q", sink.calls, tt.want)
			}
			for i := range tt.want {
				if sink.calls[i] != tt.want[i] {
					t.Errorf("write %d = %.40q, want %.40q", i, sink.calls[i], tt.want[i])
				}
			}
		})
	}
}

func TestLineWriterNeverFails(t *testing.T) {
	lw := &lineWriter{mu: &sync.Mutex{}, out: failing{}, prefix: "p "}
	if n, err := lw.Write([]byte("x\n")); n != 2 || err != nil {
		t.Errorf("Write = %d, %v; want 2, nil", n, err)
	}
}

type failing struct{}

func (failing) Write([]byte) (int, error) { return 0, bytes.ErrTooLarge }

func TestParseErrorDocument(t *testing.T) {
	tests := []struct {
		name, body, header string
		want               FunctionError
	}{
		{"document", `{"errorType":"E","errorMessage":"m","stackTrace":[]}`, "", FunctionError{"E", "m"}},
		{"type from header", `{"errorMessage":"m"}`, "H", FunctionError{"H", "m"}},
		{"not JSON", `oops`, "", FunctionError{"Runtime.Unknown", "oops"}},
		{"empty", ``, "H", FunctionError{"H", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseErrorDocument([]byte(tt.body), tt.header); *got != tt.want {
				t.Errorf("got %+v, want %+v", *got, tt.want)
			}
		})
	}
}
