package authorizer

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"wsapi/contract"
)

// TestResultSizeBudget covers the size rule: optional context values are
// emptied, scope then email then username, until the encoded response fits;
// sub is never altered, and a response that cannot fit is refused.
func TestResultSizeBudget(t *testing.T) {
	const sub = "2f1c9a7e-0b6d-4b8e-9f3a-111111111111"
	// fixed is the encoded size of an Allow with every context value empty.
	fixed := encodedLen(t, allowResponse(testARN, Claims{}))
	// maxSub is the longest sub that fits: it is encoded twice, as the
	// principal and in the context.
	maxSub := (resultBudgetBytes - fixed) / 2
	// atBudget pads an email so the response with scope "x" is exactly
	// resultBudgetBytes long, plus extra bytes.
	atBudget := func(extra int) Claims {
		c := Claims{Subject: sub, Scope: "x"}
		c.Email = strings.Repeat("e", resultBudgetBytes-encodedLen(t, allowResponse(testARN, c))+extra)
		return c
	}

	tests := []struct {
		name        string
		claims      Claims
		wantEmptied []string // in the order emptied
		wantReason  string   // "" means allowed
		// stringsFit marks claims whose string lengths alone fit the
		// budget: only the encoding takes them over.
		stringsFit bool
	}{
		{name: "small values kept", claims: Claims{Subject: sub, Username: "alice", Email: "alice@example.com", Scope: "openid"}},
		{
			name:        "email of U+2028 fits as a string, not encoded",
			claims:      Claims{Subject: sub, Username: "alice", Email: strings.Repeat("\u2028", 1500), Scope: "openid"},
			wantEmptied: []string{contract.AuthContextScope, contract.AuthContextEmail},
			stringsFit:  true,
		},
		{
			name:        "HTML characters measured escaped",
			claims:      Claims{Subject: sub, Username: "alice", Email: strings.Repeat("<", 1500)},
			wantEmptied: []string{contract.AuthContextEmail},
			stringsFit:  true,
		},
		{
			name:        "invalid UTF-8 measured as encoded",
			claims:      Claims{Subject: sub, Username: strings.Repeat("\xff", 1500), Email: "alice@example.com", Scope: "openid"},
			wantEmptied: []string{contract.AuthContextScope, contract.AuthContextEmail, contract.AuthContextUsername},
			stringsFit:  true,
		},
		{
			name:        "huge scope emptied first",
			claims:      Claims{Subject: sub, Username: "alice", Email: "alice@example.com", Scope: strings.Repeat("read ", 1700)},
			wantEmptied: []string{contract.AuthContextScope},
		},
		{
			name:        "huge username and email: email goes, username stays",
			claims:      Claims{Subject: sub, Username: strings.Repeat("u", 4100), Email: strings.Repeat("e", 4100)},
			wantEmptied: []string{contract.AuthContextEmail},
		},
		{
			name:        "huge username: every optional value emptied",
			claims:      Claims{Subject: sub, Username: strings.Repeat("u", 8000), Email: "alice@example.com", Scope: "openid"},
			wantEmptied: []string{contract.AuthContextScope, contract.AuthContextEmail, contract.AuthContextUsername},
		},
		{name: "exactly at the budget", claims: atBudget(0)},
		{name: "one byte over empties scope", claims: atBudget(1), wantEmptied: []string{contract.AuthContextScope}},
		{name: "largest sub that fits", claims: Claims{Subject: strings.Repeat("s", maxSub)}},
		{name: "sub one byte longer", claims: Claims{Subject: strings.Repeat("s", maxSub+1)}, wantReason: "result_too_large"},
		{
			name:       "giant sub refused, not truncated",
			claims:     Claims{Subject: strings.Repeat("s", 4000), Username: "alice", Email: "alice@example.com", Scope: "openid"},
			wantReason: "result_too_large",
		},
		{
			name:       "sub of U+2028 refused",
			claims:     Claims{Subject: strings.Repeat("\u2028", 700)},
			wantReason: "result_too_large",
			stringsFit: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.claims
			if tt.stringsFit {
				if n := fixed + 2*len(c.Subject) + len(c.Username) + len(c.Email) + len(c.Scope); n > resultBudgetBytes {
					t.Fatalf("fixture: %d bytes as strings, want them under the budget", n)
				}
			}
			source, err := parseIdentitySource("route.request.querystring.token")
			if err != nil {
				t.Fatal(err)
			}
			logger, logs := newTestLogger()
			h := NewHandler(&fakeVerifier{claims: c}, source, nil, logger)

			resp, err := h.Handle(context.Background(), connectRequest("t0k"))

			out := logs.String()
			for _, v := range []string{c.Subject, c.Username, c.Email, c.Scope} {
				if len(v) >= 5 && strings.Contains(out, v) {
					t.Errorf("logs contain a claim value:\n%.500s", out)
				}
			}
			if tt.wantReason != "" {
				assertRefused(t, resp, err)
				assertLogged(t, out, `"reason":"`+tt.wantReason+`"`)
				return
			}
			if err != nil {
				t.Fatalf("Handle: %v; logs: %s", err, out)
			}
			want := map[string]any{"sub": c.Subject, "username": c.Username, "email": c.Email, "scope": c.Scope}
			for _, key := range tt.wantEmptied {
				want[key] = ""
			}
			assertAllow(t, resp, want)
			if size := encodedLen(t, resp); size > resultBudgetBytes {
				t.Errorf("result is %d bytes, budget %d", size, resultBudgetBytes)
			}
			if tt.wantEmptied == nil {
				if strings.Contains(out, "emptied") {
					t.Errorf("logs report emptied values, want none:\n%s", out)
				}
				return
			}
			emptied, err := json.Marshal(tt.wantEmptied)
			if err != nil {
				t.Fatal(err)
			}
			assertLogged(t, out, `"level":"WARN","msg":"context values emptied to fit the result size budget"`, `"emptied":`+string(emptied))
		})
	}
}

// TestResultSizeProperty feeds the handler random claims, heavy on
// characters the encoder expands, and checks every answer against the rule.
func TestResultSizeProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(20261128, 8192))
	pieces := []string{"a", "Z", "0", " ", "\u2028", "\u2029", "<", ">", "&", "é", "€", "😀", `"`, `\`, "\x01", "\xff"}
	value := func() string {
		// Mostly short, sometimes large enough to matter alone.
		n := []int{0, 16, 600, 2500, 9000}[rng.IntN(5)]
		n = rng.IntN(n + 1)
		var b strings.Builder
		for b.Len() < n {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		return b.String()
	}

	var outcomes [3]int
	for range 2000 {
		c := Claims{Subject: value(), Username: value(), Email: value(), Scope: value()}
		if c.Subject == "" {
			c.Subject = "s"
		}
		outcomes[checkResultRule(t, c)]++
		if t.Failed() {
			t.Fatalf("claims (lengths sub %d, username %d, email %d, scope %d) broke the rule",
				len(c.Subject), len(c.Username), len(c.Email), len(c.Scope))
		}
	}
	t.Logf("kept whole %d, emptied %d, refused %d", outcomes[resultKept], outcomes[resultEmptied], outcomes[resultRefused])
	// The generator must reach every branch, or the test proves little.
	for i, name := range []string{"kept whole", "emptied", "refused"} {
		if outcomes[i] == 0 {
			t.Errorf("no claims were %s; outcomes %v", name, outcomes)
		}
	}
}

// FuzzResultSize checks the rule on any claims: go test -fuzz=FuzzResultSize.
func FuzzResultSize(f *testing.F) {
	f.Add("user-1", "alice", "alice@example.com", "openid")
	f.Add("user-1", "alice", strings.Repeat("\u2028", 1500), "openid")
	f.Add(strings.Repeat("s", 3600), "", "", "")
	f.Add("user-1", strings.Repeat("\xff", 1400), "<&>", strings.Repeat("read ", 1500))
	f.Fuzz(func(t *testing.T, sub, username, email, scope string) {
		if sub == "" {
			return // the verifier never returns an empty sub
		}
		checkResultRule(t, Claims{Subject: sub, Username: username, Email: email, Scope: scope})
	})
}

// Outcomes of checkResultRule.
const (
	resultKept = iota
	resultEmptied
	resultRefused
)

// checkResultRule runs c through the handler and checks the answer: an
// accepted result encodes within the budget, as json.Marshal and as the
// Lambda runtime writes it; sub is whole; every key is present; values are
// either whole or emptied in rule order, no more than needed; a refusal
// happens only when nothing could fit.
func checkResultRule(t *testing.T, c Claims) int {
	t.Helper()
	source, err := parseIdentitySource("route.request.querystring.token")
	if err != nil {
		t.Fatal(err)
	}
	h := NewHandler(&fakeVerifier{claims: c}, source, nil, slog.New(slog.DiscardHandler))
	resp, err := h.Handle(context.Background(), connectRequest("t0k"))
	if err != nil {
		if size := encodedLen(t, allowResponse(testARN, Claims{Subject: c.Subject})); size <= resultBudgetBytes {
			t.Errorf("refused (%v), yet the result fits at %d bytes with every optional value empty", err, size)
		}
		return resultRefused
	}

	if size := encodedLen(t, resp); size > resultBudgetBytes {
		t.Errorf("json.Marshal: %d bytes, budget %d", size, resultBudgetBytes)
	}
	// What aws-lambda-go writes: its encoder leaves <, > and & as they
	// are and ends with a newline.
	var runtime bytes.Buffer
	enc := json.NewEncoder(&runtime)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(resp); err != nil {
		t.Fatal(err)
	}
	if runtime.Len() > resultBudgetBytes+1 {
		t.Errorf("runtime encoding: %d bytes, budget %d and a newline", runtime.Len(), resultBudgetBytes)
	}
	if resp.PrincipalID != c.Subject || resp.Context[contract.AuthContextSub] != c.Subject {
		t.Error("sub altered")
	}
	if len(resp.Context) != 4 {
		t.Errorf("context has %d keys, want 4", len(resp.Context))
	}

	in := map[string]string{contract.AuthContextUsername: c.Username, contract.AuthContextEmail: c.Email, contract.AuthContextScope: c.Scope}
	last := -1 // index in emptiedFirst of the last value emptied
	for i, key := range emptiedFirst {
		got, ok := resp.Context[key].(string)
		switch {
		case !ok:
			t.Errorf("context[%q] is %T, want a string", key, resp.Context[key])
		case got == in[key]:
			// Kept whole, or empty already.
		case got != "":
			t.Errorf("context[%q] altered, not emptied", key)
		default:
			last = i
		}
	}
	for _, key := range emptiedFirst[:max(last, 0)] {
		if resp.Context[key] != "" {
			t.Errorf("context[%q] kept while %q, which goes after it, was emptied", key, emptiedFirst[last])
		}
	}
	if last < 0 {
		return resultKept
	}
	// Minimal: restoring the last value emptied must not fit.
	key := emptiedFirst[last]
	resp.Context[key] = in[key]
	if size := encodedLen(t, resp); size <= resultBudgetBytes {
		t.Errorf("%q emptied though the result fits at %d bytes with it", key, size)
	}
	return resultEmptied
}

// TestResultMargin pins the margin's justification: it covers the runtime's
// trailing newline and a re-encoding of the response with two-space
// indentation, whose extra bytes depend on its fixed structure only.
func TestResultMargin(t *testing.T) {
	resp := allowResponse(testARN, Claims{Subject: "user-1", Username: "alice", Email: "alice@example.com", Scope: "openid"})
	compact := encodedLen(t, resp)
	indented, err := json.MarshalIndent(resp, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	extra := len(indented) - compact + 1
	if extra > resultMarginBytes {
		t.Errorf("indented encoding and newline add %d bytes, margin is %d", extra, resultMarginBytes)
	}
	t.Logf("indentation and newline: %d bytes of the %d-byte margin", extra, resultMarginBytes)
}

func encodedLen(t testing.TB, resp events.APIGatewayCustomAuthorizerResponse) int {
	t.Helper()
	b, err := json.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	return len(b)
}
