package metrics

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"wsapi/lambdas/internal/metrics/emftest"
)

// specExample is the Record that should encode as the specification's
// example (testdata/spec-example.json).
var specExample = Record{
	Timestamp: time.UnixMilli(1574109732004),
	Directives: []Directive{{
		Namespace:  "lambda-function-metrics",
		Dimensions: [][]string{{"functionVersion"}},
		Metrics:    []Definition{{"time", Milliseconds}},
	}},
	Fields: []Field{{"functionVersion", "$LATEST"}, {"requestId", "989ffbf8-9ace-4817-a57c-e4dd734019ee"}},
	Values: []Value{{"time", 100}},
}

// TestSpecExample checks the validator accepts the specification's example
// and the encoder writes it, as one line, member for member.
func TestSpecExample(t *testing.T) {
	want, err := os.ReadFile("testdata/spec-example.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := emftest.Validate(want); err != nil {
		t.Fatalf("the specification's example is invalid: %v", err)
	}
	got, err := Encode(specExample)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(got), "\n"); n != 1 || !strings.HasSuffix(string(got), "\n") {
		t.Errorf("Encode wrote %d newlines, want one, at the end: %q", n, got)
	}
	if _, err := emftest.Validate(got); err != nil {
		t.Fatalf("encoded example is invalid: %v\n%s", err, got)
	}
	if diff := cmp.Diff(decode(t, want), decode(t, got)); diff != "" {
		t.Errorf("encoded example differs from the specification's (-spec +ours):\n%s", diff)
	}
}

// TestSpecInvalid checks that the validator the other tests rely on refuses
// the specification's example broken in each way the page forbids.
func TestSpecInvalid(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no invalid examples: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := emftest.Validate(b); err == nil {
				t.Errorf("Validate accepted %s", b)
			}
		})
	}
}

func TestEncodeRefuses(t *testing.T) {
	many := func(n int, f func(i int)) {
		for i := range n {
			f(i)
		}
	}
	tests := []struct {
		name   string
		change func(r *Record)
		want   string
	}{
		{"no directive", func(r *Record) { r.Directives = nil }, "no metric directive"},
		{"no timestamp", func(r *Record) { r.Timestamp = time.Time{} }, "no timestamp"},
		{"no namespace", func(r *Record) { r.Directives[0].Namespace = "" }, "namespace"},
		{"AWS namespace", func(r *Record) { r.Directives[0].Namespace = "AWS/Lambda" }, "reserved"},
		{"no metric", func(r *Record) { r.Directives[0].Metrics = nil }, "0 metrics"},
		{"101 metrics", func(r *Record) {
			r.Directives[0].Metrics = nil
			r.Values = nil
			many(101, func(i int) {
				n := "m" + string(rune('a'+i/26)) + string(rune('a'+i%26))
				r.Directives[0].Metrics = append(r.Directives[0].Metrics, Definition{n, Count})
				r.Values = append(r.Values, Value{n, 1})
			})
		}, "101 metrics"},
		{"31 dimension keys", func(r *Record) {
			var set []string
			many(31, func(i int) {
				n := "d" + string(rune('a'+i/26)) + string(rune('a'+i%26))
				set = append(set, n)
				r.Fields = append(r.Fields, Field{n, "v"})
			})
			r.Directives[0].Dimensions = [][]string{set}
		}, "over 30 keys"},
		{"no dimension set", func(r *Record) { r.Directives[0].Dimensions = nil }, "no dimension set"},
		{"dimension without value", func(r *Record) { r.Directives[0].Dimensions = [][]string{{"nope"}} }, `dimension "nope"`},
		{"dimension twice in a set", func(r *Record) {
			r.Directives[0].Dimensions = [][]string{{"functionVersion", "functionVersion"}}
		}, "twice"},
		{"metric without value", func(r *Record) { r.Values = nil }, `metric "time" has no numeric member`},
		{"metric defined twice", func(r *Record) {
			r.Directives[0].Metrics = append(r.Directives[0].Metrics, Definition{"time", Milliseconds})
		}, "defined twice"},
		{"unknown unit", func(r *Record) { r.Directives[0].Metrics[0].Unit = "Millis" }, "not a CloudWatch unit"},
		{"NaN", func(r *Record) { r.Values[0].Value = math.NaN() }, "not a JSON number"},
		{"infinity", func(r *Record) { r.Values[0].Value = math.Inf(1) }, "not a JSON number"},
		{"name taken", func(r *Record) { r.Fields = append(r.Fields, Field{"time", "x"}) }, "taken"},
		{"_aws as a field", func(r *Record) { r.Fields = append(r.Fields, Field{"_aws", "x"}) }, "taken"},
		{"empty name", func(r *Record) { r.Values = append(r.Values, Value{"", 1}) }, "want 1 to 255"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := clone(specExample)
			tt.change(&r)
			got, err := Encode(r)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Encode() = %q, %v; want an error containing %q", got, err, tt.want)
			}
		})
	}
}

// TestEncodeEdges checks what is valid but unusual: every unit, a
// definition without a unit, an empty dimension set, values needing
// escapes, fractions.
func TestEncodeEdges(t *testing.T) {
	r := Record{
		Timestamp: time.UnixMilli(1),
		Fields:    []Field{{"Op", "a\"b<c>\u2028"}},
	}
	d := Directive{Namespace: "My App/v1#x:y_z-.", Dimensions: [][]string{{}, {"Op"}}}
	for i, u := range append(Units, "") {
		name := "m" + string(rune('A'+i))
		d.Metrics = append(d.Metrics, Definition{name, u})
		r.Values = append(r.Values, Value{name, float64(i) + 0.25})
	}
	r.Directives = []Directive{d}
	line, err := Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := emftest.Validate(line)
	if err != nil {
		t.Fatalf("%v\n%s", err, line)
	}
	if got := doc.Dimension("Op"); got != "a\"b<c>\u2028" {
		t.Errorf("Op = %q", got)
	}
	if want := [][]string{nil, {"Op"}}; !cmp.Equal(doc.Directives[0].Dimensions, want) {
		t.Errorf("dimension sets %q, want %q", doc.Directives[0].Dimensions, want)
	}
	if !strings.Contains(string(line), `"Dimensions":[[],["Op"]]`) {
		t.Errorf("an empty dimension set is not written []: %s", line)
	}
	for i, u := range append(Units, "") {
		name := "m" + string(rune('A'+i))
		if got := doc.Metrics[name]; got.Unit != string(u) || got.Value != float64(i)+0.25 {
			t.Errorf("%s = %+v, want unit %q value %v", name, got, u, float64(i)+0.25)
		}
	}
}

func TestValidNamespace(t *testing.T) {
	for _, ns := range []string{"WebSocketApi", "wsapi/dev", "a b", "x#1:2.3-4_5", strings.Repeat("n", 255)} {
		if err := ValidNamespace(ns); err != nil {
			t.Errorf("ValidNamespace(%q) = %v, want nil", ns, err)
		}
	}
	for _, ns := range []string{"", "   ", ":x", "AWS/Lambda", "é", "a\tb", "a,b", strings.Repeat("n", 256)} {
		if err := ValidNamespace(ns); err == nil {
			t.Errorf("ValidNamespace(%q) = nil, want an error", ns)
		}
	}
}

func decode(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func clone(r Record) Record {
	c := r
	c.Directives = nil
	for _, d := range r.Directives {
		d.Dimensions = append([][]string(nil), d.Dimensions...)
		d.Metrics = append([]Definition(nil), d.Metrics...)
		c.Directives = append(c.Directives, d)
	}
	c.Fields = append([]Field(nil), r.Fields...)
	c.Values = append([]Value(nil), r.Values...)
	return c
}
