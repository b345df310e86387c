package authorizer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"testing"

	"wsapi/contract"
	"wsapi/lambdas/internal/metrics"
	"wsapi/lambdas/internal/metrics/emftest"
)

// refusalReasons is the fixed list a Reason dimension may take.
func refusalReasons() []string {
	var all []string
	for _, r := range reasons {
		all = append(all, r.reason)
	}
	return append(all, reasonInvalidToken)
}

// newTestMetrics returns an EMF recorder that writes to the returned
// buffer, as the function writes to stdout.
func newTestMetrics() (*metrics.EMF, *bytes.Buffer) {
	var out bytes.Buffer
	return metrics.New(&out, "wsapi-test", contract.FunctionAuthorizer, slog.New(slog.DiscardHandler)), &out
}

// assertMetrics checks that out holds the one record of a decision: an
// accept when wantReason is "", else a refusal with that reason, which must
// be on the fixed list. None of forbidden may appear in it.
func assertMetrics(t *testing.T, out string, wantReason string, forbidden ...string) {
	t.Helper()
	docs := emftest.Lines(t, out)
	if len(docs) != 1 {
		t.Fatalf("%d metrics records, want 1: %s", len(docs), out)
	}
	d := docs[0]
	accepted, refused := 1.0, 0.0
	if wantReason != "" {
		accepted, refused = 0, 1
	}
	got := d.Values()
	if len(got) != 2 || got[contract.MetricAuthAccepted] != accepted || got[contract.MetricAuthRefused] != refused {
		t.Errorf("metrics %v, want %s %v and %s %v", got, contract.MetricAuthAccepted, accepted, contract.MetricAuthRefused, refused)
	}
	if d.Dimension(contract.DimensionFunction) != contract.FunctionAuthorizer {
		t.Errorf("Function = %q", d.Dimension(contract.DimensionFunction))
	}
	reason, hasReason := d.Root[contract.DimensionReason]
	switch {
	case wantReason == "" && hasReason:
		t.Errorf("accept carries a Reason %v", reason)
	case wantReason != "" && reason != wantReason:
		t.Errorf("Reason = %v, want %q", reason, wantReason)
	case wantReason != "" && !slices.Contains(refusalReasons(), wantReason):
		t.Errorf("Reason %q is not on the fixed list", wantReason)
	}
	if wantReason != "" {
		// AuthRefused by Function and by Function and Reason, so an
		// alarm can sum refusals without metric math.
		var sets [][]string
		for _, dir := range d.Directives {
			if slices.Contains(dir.Metrics, contract.MetricAuthRefused) {
				sets = dir.Dimensions
			}
		}
		want := [][]string{{contract.DimensionFunction}, {contract.DimensionFunction, contract.DimensionReason}}
		if fmt.Sprint(sets) != fmt.Sprint(want) {
			t.Errorf("AuthRefused dimension sets %q, want %q", sets, want)
		}
	}
	for k := range d.Root {
		if !slices.Contains([]string{contract.DimensionFunction, contract.DimensionReason, contract.MetricAuthAccepted, contract.MetricAuthRefused}, k) {
			t.Errorf("record has member %q", k)
		}
	}
	for _, f := range forbidden {
		if f != "" && strings.Contains(out, f) {
			t.Errorf("record holds %q: %s", f, out)
		}
	}
}

// TestRefusalReasonsFixed checks the list the Reason dimension takes its
// values from: short snake_case constants, each once, and refusalReason
// never returns anything else, whatever the error says.
func TestRefusalReasonsFixed(t *testing.T) {
	all := refusalReasons()
	valid := regexp.MustCompile(`^[a-z][a-z_]{2,30}$`)
	for i, r := range all {
		if !valid.MatchString(r) {
			t.Errorf("reason %q is not a short snake_case name", r)
		}
		if slices.Contains(all[:i], r) {
			t.Errorf("reason %q listed twice", r)
		}
	}
	errs := []error{
		errors.New("eyJhbGciOiJSUzI1NiJ9.e30.sig"),
		fmt.Errorf("token %q: %w", "eyJhbGciOiJSUzI1NiJ9", errUnknownKID),
		errors.Join(errors.New("alice@example.com"), errBadAudience),
		nil,
	}
	for _, r := range reasons {
		errs = append(errs, fmt.Errorf("wrapped: %w", r.err))
	}
	for _, err := range errs {
		if got, _ := refusalReason(err); !slices.Contains(all, got) {
			t.Errorf("refusalReason(%v) = %q, not on the fixed list", err, got)
		}
	}
}

// TestMetricsNeverFailTheDecision checks that a recorder whose writes fail
// changes no answer.
func TestMetricsNeverFailTheDecision(t *testing.T) {
	source, err := parseIdentitySource("route.request.querystring.token")
	if err != nil {
		t.Fatal(err)
	}
	logger, logs := newTestLogger()
	m := metrics.New(failingWriter{}, "wsapi-test", contract.FunctionAuthorizer, logger)
	h := NewHandler(&fakeVerifier{claims: Claims{Subject: "user-1"}}, source, m, logger)
	if _, err := h.Handle(context.Background(), connectRequest("t0k")); err != nil {
		t.Errorf("Handle with a failing recorder: %v", err)
	}
	if _, err := h.Handle(context.Background(), connectRequest("")); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("refusal with a failing recorder: %v", err)
	}
	assertLogged(t, logs.String(), `"msg":"metrics record not written"`)
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("stdout closed") }
