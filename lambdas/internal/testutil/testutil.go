// Package testutil holds the test helpers the function packages under
// lambdas/internal share: strict decoding of event fixtures, reading the
// JSON lines a slog handler wrote, and the table test of a ConfigFromEnv.
// Only tests import it.
package testutil

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"wsapi/lambdas/internal/env"
)

// DecodeStrict decodes the JSON file at path into a T as Lambda would, but
// refusing unknown fields, so a fixture that drifts from the event contract
// fails the test.
func DecodeStrict[T any](t testing.TB, path string) T {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var v T
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	return v
}

// LogLines parses what a slog JSON handler wrote to buf, one object per
// line; a line that is not a JSON object fails the test.
func LogLines(t testing.TB, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for l := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	return lines
}

// ConfigTest is one case of a ConfigFromEnv table test.
type ConfigTest[C comparable] struct {
	Name string
	Env  map[string]string // the whole environment; unset names read as ""
	Want C                 // the zero C when an error is wanted
	// WantErr lists substrings the error must contain; empty means no
	// error is wanted.
	WantErr []string
}

// RunConfigTests runs each case as a subtest: fromEnv reads the case's
// environment and must return the wanted config and an error holding every
// wanted substring, or no error when none is wanted.
func RunConfigTests[C comparable](t *testing.T, fromEnv func(env.Getenv) (C, error), tests []ConfigTest[C]) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			got, err := fromEnv(func(k string) string { return tt.Env[k] })
			if len(tt.WantErr) == 0 && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			for _, w := range tt.WantErr {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error = %v, want one containing %q", err, w)
				}
			}
			if got != tt.Want {
				t.Errorf("got %+v, want %+v", got, tt.Want)
			}
		})
	}
}
