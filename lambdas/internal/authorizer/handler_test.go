package authorizer

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/golang-jwt/jwt/v5"
)

// fakeVerifier records the tokens it is asked about.
type fakeVerifier struct {
	claims Claims
	err    error
	calls  []string
}

var _ TokenVerifier = (*fakeVerifier)(nil)

func (f *fakeVerifier) Verify(_ context.Context, token string) (Claims, error) {
	f.calls = append(f.calls, token)
	return f.claims, f.err
}

// TestHandler covers the handler's own rules with a fake verifier: where the
// token is read and what never reaches the verifier. TestResultSizeBudget
// covers the size rule.
func TestHandler(t *testing.T) {
	claims := Claims{Subject: "user-1", Username: "alice", Email: "alice@example.com", Scope: "openid"}
	query := "route.request.querystring.token"
	hdr := "route.request.header.X-Auth-Token"
	withHeaders := func(h map[string]string) Request { r := connectRequest(""); r.Headers = h; return r }

	tests := []struct {
		name       string
		source     string
		req        Request
		verifier   fakeVerifier
		wantToken  string // what the verifier must see; "" means not called
		wantReason string // "" means allowed
	}{
		{name: "query parameter", source: query, req: connectRequest("t0k"), verifier: fakeVerifier{claims: claims}, wantToken: "t0k"},
		{name: "query parameter padded with spaces", source: query, req: connectRequest(" t0k "), verifier: fakeVerifier{claims: claims}, wantToken: "t0k"},
		{name: "query parameter is case-sensitive", source: "route.request.querystring.Token", req: connectRequest("t0k"), wantReason: "missing_token"},
		{name: "query parameter keeps a Bearer prefix", source: query, req: connectRequest("Bearer t0k"), verifier: fakeVerifier{claims: claims}, wantToken: "Bearer t0k"},
		{name: "header", source: hdr, req: withHeaders(map[string]string{"X-Auth-Token": "t0k"}), verifier: fakeVerifier{claims: claims}, wantToken: "t0k"},
		{name: "header, any case", source: hdr, req: withHeaders(map[string]string{"x-auth-token": "bEaReR t0k"}), verifier: fakeVerifier{claims: claims}, wantToken: "t0k"},
		{name: "header missing", source: hdr, req: withHeaders(map[string]string{"Authorization": "Bearer t0k"}), wantReason: "missing_token"},
		{name: "no headers at all", source: hdr, req: connectRequest(""), wantReason: "missing_token"},
		{name: "oversized token is not parsed", source: query, req: connectRequest(strings.Repeat("a", maxTokenBytes+1)), wantReason: "token_too_large"},
		{
			name: "token at the size limit is verified", source: query, req: connectRequest(strings.Repeat("a", maxTokenBytes)),
			verifier: fakeVerifier{claims: claims}, wantToken: strings.Repeat("a", maxTokenBytes),
		},
		{
			name: "no methodArn", source: query,
			req:        func() Request { r := connectRequest("t0k"); r.MethodArn = ""; return r }(),
			wantReason: "missing_method_arn",
		},
		{
			name: "verifier error is hidden behind Unauthorized", source: query, req: connectRequest("t0k"),
			verifier: fakeVerifier{err: fmt.Errorf("verify: %w", errBadAudience)}, wantToken: "t0k", wantReason: "bad_audience",
		},
		{
			// The old rule refused any value over 1,024 bytes.
			name: "values over 1 KB that fit the budget", source: query, req: connectRequest("t0k"),
			verifier: fakeVerifier{claims: Claims{
				Subject: strings.Repeat("s", 1100), Username: strings.Repeat("u", 1100),
				Email: strings.Repeat("e", 1100), Scope: strings.Repeat("c", 1100),
			}},
			wantToken: "t0k",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			source, err := parseIdentitySource(tt.source)
			if err != nil {
				t.Fatal(err)
			}
			logger, logs := newTestLogger()
			v := tt.verifier
			m, records := newTestMetrics()
			h := NewHandler(&v, source, m, logger)

			resp, err := h.Handle(context.Background(), tt.req)

			switch {
			case tt.wantToken == "" && len(v.calls) > 0:
				t.Errorf("verifier called with %d bytes, want no call", len(v.calls[0]))
			case tt.wantToken != "" && (len(v.calls) != 1 || v.calls[0] != tt.wantToken):
				t.Errorf("verifier called with %q, want %q", v.calls, tt.wantToken)
			}
			assertMetrics(t, records.String(), tt.wantReason, "t0k", "user-1", "alice", "Lk9zJdxyIAMCJ-w=")
			if tt.wantReason != "" {
				assertRefused(t, resp, err)
				assertLogged(t, logs.String(), `"reason":"`+tt.wantReason+`"`)
				return
			}
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			c := v.claims
			assertAllow(t, resp, map[string]any{"sub": c.Subject, "username": c.Username, "email": c.Email, "scope": c.Scope})
			if size := authorizerResultBytes(t, resp); size > resultBudgetBytes {
				t.Errorf("authorizer result is %d bytes, over the %d-byte budget", size, resultBudgetBytes)
			}
		})
	}
}

func authorizerResultBytes(t *testing.T, v any) int {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return len(b)
}

// TestRequestUnmarshal decodes a WebSocket $connect authorizer event as the
// Lambda runtime does, including the connection ID the library type lacks.
func TestRequestUnmarshal(t *testing.T) {
	data, err := os.ReadFile("testdata/connect_event.json")
	if err != nil {
		t.Fatal(err)
	}
	var req Request
	if err := json.Unmarshal(data, &req); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	for _, c := range []struct{ name, got, want string }{
		{"type", req.Type, "REQUEST"},
		{"methodArn", req.MethodArn, testARN},
		{"requestId", req.RequestContext.RequestID, "Lk9zJHtNIAMFZxA="},
		{"connectionId", req.ConnectionID, "Lk9zJdxyIAMCJ-w="},
		{"apiId", req.RequestContext.APIID, "abcdef1234"},
		{"query token", req.QueryStringParameters["token"], "placeholder-not-a-jwt"},
		{"header", req.Headers["Sec-WebSocket-Version"], "13"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}

	if err := json.Unmarshal([]byte(`{"requestContext": 7}`), &req); err == nil {
		t.Error("Unmarshal of a bad requestContext succeeded")
	}
}

// TestLogsNeverHoldTheToken refuses and allows a token through the real
// verifier with every log level on, and looks for it in the output.
func TestLogsNeverHoldTheToken(t *testing.T) {
	k := loadKeys(t)
	srv := newJWKSServer(t)
	logger, logs := newTestLogger()
	v := newVerifier(t, srv, VerifierOptions{Logger: logger})
	source, err := parseIdentitySource("route.request.header.Authorization")
	if err != nil {
		t.Fatal(err)
	}
	h := NewHandler(v, source, nil, logger)

	valid := sign(t, jwt.SigningMethodRS256, rsaKID, k.rsa, baseClaims())
	expired := sign(t, jwt.SigningMethodRS256, rsaKID, k.rsa, with(baseClaims(), map[string]any{"exp": 1}))
	unknown := sign(t, jwt.SigningMethodES256, "unknown-kid-value", k.ec, baseClaims())
	for _, tok := range []string{valid, expired, unknown} {
		req := connectRequest("")
		req.Headers = map[string]string{"Authorization": "Bearer " + tok}
		_, _ = h.Handle(context.Background(), req)
	}

	out := logs.String()
	assertLogged(t, out, `"msg":"connection allowed"`, `"reason":"expired"`, `"reason":"unknown_kid"`)
	for _, tok := range []string{valid, expired, unknown} {
		assertTokenNotLogged(t, out, tok)
	}
	// The kid is part of the token too.
	if strings.Contains(out, "unknown-kid-value") {
		t.Errorf("logs contain the token's kid:\n%s", out)
	}
}

// TestUnauthorizedEcho: the line main drops is exactly what aws-lambda-go
// prints for ErrUnauthorized (its lambdaErrorResponse: the message, and the
// type name without the pointer).
func TestUnauthorizedEcho(t *testing.T) {
	echo, err := json.Marshal(messages.InvokeResponse_Error{
		Message: ErrUnauthorized.Error(),
		Type:    reflect.TypeOf(ErrUnauthorized).Elem().Name(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if string(echo) != unauthorizedEcho {
		t.Errorf("aws-lambda-go would print %s, main drops %s", echo, unauthorizedEcho)
	}

	for _, tc := range []struct {
		line string
		want bool
	}{
		{string(echo), true},
		{string(echo) + " ", false},
		{`{"errorMessage":"boom","errorType":"errorString"}`, false},
		{"runtime API client failed to close /next response body: EOF", false},
		{"", false},
	} {
		if got := IsUnauthorizedEcho(tc.line); got != tc.want {
			t.Errorf("IsUnauthorizedEcho(%q) = %v, want %v", tc.line, got, tc.want)
		}
	}
}
