package test

import (
	"fmt"
	"math"
	"testing"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB // nil: only the methods below are called
	errors     []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func TestEqualJSON(t *testing.T) {
	cases := []struct {
		name      string
		got, want any
		fail      bool
	}{
		{name: "same document", got: map[string]any{"a": []any{1, "x"}}, want: map[string]any{"a": []any{1.0, "x"}}},
		{name: "nil and null", got: nil, want: nil},
		{name: "different documents", got: map[string]any{"a": 1}, want: map[string]any{"a": 2}, fail: true},
		// Neither encodes to JSON; they used to compare equal (as null).
		{name: "two un-marshalable values", got: make(chan int), want: func() {}, fail: true},
		{name: "NaN and infinity", got: math.NaN(), want: math.Inf(1), fail: true},
		{name: "un-marshalable and null", got: make(chan int), want: nil, fail: true},
		{name: "null and un-marshalable", got: nil, want: math.NaN(), fail: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{}
			equalJSON(r, "value", tc.got, tc.want)
			if failed := len(r.errors) > 0; failed != tc.fail {
				t.Errorf("equalJSON(%#v, %#v) failed = %v, want %v; errors: %q", tc.got, tc.want, failed, tc.fail, r.errors)
			}
		})
	}
}
