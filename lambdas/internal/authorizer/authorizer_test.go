package authorizer

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/golang-jwt/jwt/v5"
)

// TestAuthorize runs tokens through the handler and the real verifier,
// against a local key set: the answer API Gateway gets, and what is logged.
func TestAuthorize(t *testing.T) {
	k := loadKeys(t)
	valid := baseClaims()
	now := time.Now()
	rs256 := func(c jwt.MapClaims) func(*testing.T) string {
		return func(t *testing.T) string { return sign(t, jwt.SigningMethodRS256, rsaKID, k.rsa, c) }
	}
	rsaPublicPEM := func(t *testing.T) []byte {
		der, err := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	sub := valid["sub"].(string)
	defaultContext := map[string]any{"sub": sub, "username": "alice", "email": "alice@example.com", "scope": ""}
	// access is a Cognito access token: client_id, no aud.
	access := with(valid, map[string]any{
		"aud": nil, "cognito:username": nil, "email": nil, "token_use": "access",
		"client_id": testAudience, "username": "alice", "scope": "openid email",
	})
	accessContext := map[string]any{"sub": sub, "username": "alice", "email": "", "scope": "openid email"}
	header := func(name, value string) func(string) Request {
		return func(string) Request {
			r := connectRequest("")
			r.Headers = map[string]string{"Host": "example.com", name: value}
			return r
		}
	}

	tests := []struct {
		name   string
		token  func(t *testing.T) string
		source string                   // identity source; default route.request.querystring.token
		req    func(tok string) Request // default connectRequest
		// tokenUse is ALLOWED_TOKEN_USE; default testTokenUse.
		tokenUse string
		// want is the authorizer context of an Allow; nil means refused
		// with wantReason.
		want       map[string]any
		wantReason string
		// sizeOK, when set, guards a fixture meant to sit on one side of
		// the token size limit.
		sizeOK func(n int) bool
	}{
		{name: "valid RS256", token: rs256(with(valid, map[string]any{"username": "not-this-one"})), want: defaultContext},
		{name: "valid ES256", token: func(t *testing.T) string { return sign(t, jwt.SigningMethodES256, ecKID, k.ec, valid) }, want: defaultContext},
		{name: "Cognito access token: client_id, no aud", token: rs256(access), want: accessContext},
		{
			name: "aud list, scope list, preferred_username",
			token: rs256(with(valid, map[string]any{
				"aud": []string{"other", testAudience}, "cognito:username": nil,
				"preferred_username": "al", "scope": []string{"read", "write"},
			})),
			want: map[string]any{"sub": sub, "username": "al", "email": "alice@example.com", "scope": "read write"},
		},
		{
			name:  "no optional claims: context keys still present",
			token: rs256(with(valid, map[string]any{"cognito:username": nil, "email": nil})),
			want:  map[string]any{"sub": sub, "username": "", "email": "", "scope": ""},
		},
		{name: "expired within leeway", token: rs256(with(valid, map[string]any{"exp": now.Add(-10 * time.Second).Unix()})), want: defaultContext},
		{name: "expired", token: rs256(with(valid, map[string]any{"exp": now.Add(-5 * time.Minute).Unix()})), wantReason: "expired"},
		{name: "not yet valid", token: rs256(with(valid, map[string]any{"nbf": now.Add(5 * time.Minute).Unix()})), wantReason: "not_yet_valid"},
		{name: "issued in the future", token: rs256(with(valid, map[string]any{"iat": now.Add(5 * time.Minute).Unix()})), wantReason: "issued_in_future"},
		{name: "no exp", token: rs256(with(valid, map[string]any{"exp": nil})), wantReason: "missing_claim"},
		{name: "wrong issuer", token: rs256(with(valid, map[string]any{"iss": "https://evil.example.com"})), wantReason: "bad_issuer"},
		{name: "issuer differs by a trailing slash", token: rs256(with(valid, map[string]any{"iss": testIssuer + "/"})), wantReason: "bad_issuer"},
		{name: "wrong audience", token: rs256(with(valid, map[string]any{"aud": "someone-else"})), wantReason: "bad_audience"},
		{name: "wrong client_id, no aud", token: rs256(with(valid, map[string]any{"aud": nil, "client_id": "someone-else"})), wantReason: "bad_audience"},
		{
			// An access token for another API of the same app client.
			name:       "aud for another API, matching client_id",
			token:      rs256(with(access, map[string]any{"aud": "https://other-api.example.com"})),
			wantReason: "bad_audience",
		},
		{
			name:       "aud list without ours, matching client_id",
			token:      rs256(with(access, map[string]any{"aud": []string{"https://other-api.example.com", "another"}})),
			wantReason: "bad_audience",
		},
		{name: "empty aud list, matching client_id", token: rs256(with(access, map[string]any{"aud": []string{}})), wantReason: "bad_audience"},
		{name: "empty aud string, matching client_id", token: rs256(with(access, map[string]any{"aud": ""})), wantReason: "bad_audience"},
		{
			name: "aud null, matching client_id",
			token: func(t *testing.T) string {
				payload, err := json.Marshal(with(access, map[string]any{"aud": json.RawMessage("null")}))
				if err != nil {
					t.Fatal(err)
				}
				return signPayload(t, rsaKID, k.rsa, payload)
			},
			wantReason: "bad_audience",
		},
		{name: "aud of the wrong type", token: rs256(with(access, map[string]any{"aud": 42})), wantReason: "malformed"},
		{
			name:  "aud matches, client_id of another",
			token: rs256(with(valid, map[string]any{"client_id": "someone-else"})),
			want:  defaultContext,
		},
		{
			// RFC 9068: the resource server is in aud.
			name:  "access token with aud, no client_id",
			token: rs256(with(access, map[string]any{"aud": testAudience, "client_id": nil})),
			want:  accessContext,
		},
		{name: "no token_use", token: rs256(with(valid, map[string]any{"token_use": nil})), wantReason: "token_use_missing"},
		{name: "token_use not in the list", token: rs256(with(valid, map[string]any{"token_use": "refresh"})), wantReason: "token_use_not_allowed"},
		{name: "token_use not a string", token: rs256(with(valid, map[string]any{"token_use": []string{"id"}})), wantReason: "token_use_not_allowed"},
		{name: "ID token where only access tokens are", token: rs256(valid), tokenUse: "access", wantReason: "token_use_not_allowed"},
		{name: "access token where only access tokens are", token: rs256(access), tokenUse: "access", want: accessContext},
		{name: "any token_use: none", token: rs256(with(valid, map[string]any{"token_use": nil})), tokenUse: "*", want: defaultContext},
		{name: "any token_use: not a string", token: rs256(with(valid, map[string]any{"token_use": 7})), tokenUse: "*", want: defaultContext},
		{name: "missing sub", token: rs256(with(valid, map[string]any{"sub": nil})), wantReason: "missing_sub"},
		{name: "empty sub", token: rs256(with(valid, map[string]any{"sub": ""})), wantReason: "missing_sub"},
		{
			name: "alg none",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodNone, rsaKID, jwt.UnsafeAllowNoneSignatureType, valid)
			},
			wantReason: "alg_not_allowed",
		},
		{
			name:       "HS256 with the RSA public key as secret",
			token:      func(t *testing.T) string { return sign(t, jwt.SigningMethodHS256, rsaKID, rsaPublicPEM(t), valid) },
			wantReason: "alg_not_allowed",
		},
		{
			name:       "RS384, validly signed, not allowed",
			token:      func(t *testing.T) string { return sign(t, jwt.SigningMethodRS384, rsaKID, k.rsa, valid) },
			wantReason: "alg_not_allowed",
		},
		{
			name:       "unknown kid",
			token:      func(t *testing.T) string { return sign(t, jwt.SigningMethodRS256, "not-published", k.rsa, valid) },
			wantReason: "unknown_kid",
		},
		{
			name:       "ES256 token naming the RS256 key",
			token:      func(t *testing.T) string { return sign(t, jwt.SigningMethodES256, rsaKID, k.ec, valid) },
			wantReason: "key_mismatch",
		},
		{
			name:       "signed by an unpublished key under a published kid",
			token:      func(t *testing.T) string { return sign(t, jwt.SigningMethodES256, ecKID, k.rotated, valid) },
			wantReason: "bad_signature",
		},
		{
			name: "tampered payload",
			token: func(t *testing.T) string {
				parts := strings.Split(rs256(valid)(t), ".")
				forged := strings.Split(rs256(with(valid, map[string]any{"sub": "admin"}))(t), ".")
				return parts[0] + "." + forged[1] + "." + parts[2]
			},
			wantReason: "bad_signature",
		},
		{
			name: "tampered payload, unsigned re-encoding",
			token: func(t *testing.T) string {
				parts := strings.Split(rs256(valid)(t), ".")
				payload := base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"` + testIssuer + `","aud":"` + testAudience + `","sub":"admin","exp":4102444800}`))
				return parts[0] + "." + payload + "." + parts[2]
			},
			wantReason: "bad_signature",
		},
		{
			name:       "truncated signature",
			token:      func(t *testing.T) string { tok := rs256(valid)(t); return tok[:len(tok)-12] },
			wantReason: "bad_signature",
		},
		{
			name:       "truncated to two segments",
			token:      func(t *testing.T) string { tok := rs256(valid)(t); return tok[:strings.LastIndex(tok, ".")] },
			wantReason: "malformed",
		},
		{name: "not a JWT", token: func(*testing.T) string { return "not-a-jwt-at-all" }, wantReason: "malformed"},
		{
			name: "header that is not JSON",
			token: func(t *testing.T) string {
				parts := strings.Split(rs256(valid)(t), ".")
				return base64.RawURLEncoding.EncodeToString([]byte("{not json")) + "." + parts[1] + "." + parts[2]
			},
			wantReason: "malformed",
		},
		{
			name: "header without alg",
			token: func(t *testing.T) string {
				parts := strings.Split(rs256(valid)(t), ".")
				return base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"JWT","kid":"rsa-1"}`)) + "." + parts[1] + "." + parts[2]
			},
			wantReason: "alg_not_allowed",
		},
		{
			name:       "claim of the wrong type",
			token:      rs256(with(valid, map[string]any{"email": 42})),
			wantReason: "malformed",
		},
		{name: "empty token", token: func(*testing.T) string { return "" }, wantReason: "missing_token"},
		{
			name:       "missing identity source",
			token:      rs256(valid),
			req:        func(string) Request { return connectRequest("") },
			wantReason: "missing_token",
		},
		{
			name:   "large token within the limit",
			token:  rs256(with(valid, map[string]any{"pad": strings.Repeat("p", 5400)})),
			sizeOK: func(n int) bool { return n > 7500 && n <= maxTokenBytes },
			want:   defaultContext,
		},
		{
			name:       "oversized token, validly signed",
			token:      rs256(with(valid, map[string]any{"pad": strings.Repeat("p", 6200)})),
			sizeOK:     func(n int) bool { return n > maxTokenBytes },
			wantReason: "token_too_large",
		},
		{
			// 4,500 bytes of email: under the budget as a string, 9,000
			// encoded. The token carries U+2028 as 3 bytes, not 6.
			name: "email of U+2028 emptied to fit",
			token: func(t *testing.T) string {
				claims := with(valid, map[string]any{"email": strings.Repeat("\u2028", 1500), "scope": "openid"})
				payload, err := json.Marshal(claims)
				if err != nil {
					t.Fatal(err)
				}
				return signPayload(t, rsaKID, k.rsa, bytes.ReplaceAll(payload, []byte(`\u2028`), []byte("\u2028")))
			},
			sizeOK: func(n int) bool { return n <= maxTokenBytes },
			want:   map[string]any{"sub": sub, "username": "alice", "email": "", "scope": ""},
		},
		{
			// sub is both the principal and a context value.
			name:       "sub too large for the result",
			token:      rs256(with(valid, map[string]any{"sub": strings.Repeat("s", resultBudgetBytes/2)})),
			sizeOK:     func(n int) bool { return n <= maxTokenBytes },
			wantReason: "result_too_large",
		},
		{
			name:   "header source with Bearer",
			token:  rs256(valid),
			source: "route.request.header.Authorization",
			req:    func(tok string) Request { return header("Authorization", "Bearer "+tok)(tok) },
			want:   defaultContext,
		},
		{
			name:   "header source without Bearer",
			token:  rs256(valid),
			source: "route.request.header.Authorization",
			req:    func(tok string) Request { return header("Authorization", tok)(tok) },
			want:   defaultContext,
		},
		{
			name:   "header source, other case in name and scheme",
			token:  rs256(valid),
			source: "route.request.header.Authorization",
			req:    func(tok string) Request { return header("authorization", "BEARER "+tok)(tok) },
			want:   defaultContext,
		},
		{
			name:       "header source, scheme without token",
			token:      rs256(valid),
			source:     "route.request.header.Authorization",
			req:        func(string) Request { return header("Authorization", "Bearer ")("") },
			wantReason: "missing_token",
		},
		{
			name:   "header source, header missing",
			token:  rs256(valid),
			source: "route.request.header.Authorization",
			req: func(tok string) Request {
				r := connectRequest(tok)
				r.Headers = map[string]string{"Host": "x"}
				return r
			},
			wantReason: "missing_token",
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newJWKSServer(t)
			tokenUse := tt.tokenUse
			if tokenUse == "" {
				tokenUse = testTokenUse
			}
			verifier := newVerifier(t, srv, VerifierOptions{AllowedTokenUse: mustTokenUse(t, tokenUse)})
			expr := tt.source
			if expr == "" {
				expr = "route.request.querystring.token"
			}
			source, err := parseIdentitySource(expr)
			if err != nil {
				t.Fatal(err)
			}
			logger, logs := newTestLogger()
			m, records := newTestMetrics()
			h := NewHandler(verifier, source, m, logger)

			token := tt.token(t)
			if tt.sizeOK != nil && !tt.sizeOK(len(token)) {
				t.Fatalf("fixture has %d bytes; adjust its padding", len(token))
			}
			req := connectRequest(token)
			if tt.req != nil {
				req = tt.req(token)
			}

			resp, err := h.Handle(context.Background(), req)

			if tt.want != nil {
				if err != nil {
					t.Fatalf("Handle: %v; logs: %s", err, logs)
				}
				assertAllow(t, resp, tt.want)
				assertLogged(t, logs.String(), `"msg":"connection allowed"`)
			} else {
				assertRefused(t, resp, err)
				assertLogged(t, logs.String(), `"reason":"`+tt.wantReason+`"`)
			}
			assertLogged(t, logs.String(), `"apiRequestId":"Lk9zJHtNIAMFZxA="`, `"connectionId":"Lk9zJdxyIAMCJ-w="`)
			assertTokenNotLogged(t, logs.String(), token)
			assertMetrics(t, records.String(), tt.wantReason, "Lk9zJdxyIAMCJ-w=", "Lk9zJHtNIAMFZxA=", token, "2f1c9a7e-0b6d-4b8e-9f3a-111111111111", "alice", testIssuer)
		})
	}
}

// assertAllow checks the whole Allow answer.
func assertAllow(t *testing.T, resp events.APIGatewayCustomAuthorizerResponse, wantContext map[string]any) {
	t.Helper()
	want := events.APIGatewayCustomAuthorizerResponse{
		PrincipalID: wantContext["sub"].(string),
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
			Version: "2012-10-17",
			Statement: []events.IAMPolicyStatement{{
				Action:   []string{"execute-api:Invoke"},
				Effect:   "Allow",
				Resource: []string{testARN},
			}},
		},
		Context: wantContext,
	}
	if !reflect.DeepEqual(resp, want) {
		t.Errorf("response:\n got %#v\nwant %#v", resp, want)
	}
	for key, v := range resp.Context {
		if _, ok := v.(string); !ok {
			t.Errorf("context[%q] is %T, want string", key, v)
		}
	}
}

// assertRefused checks the exact error API Gateway turns into a 401, and
// that nothing else is answered.
func assertRefused(t *testing.T, resp events.APIGatewayCustomAuthorizerResponse, err error) {
	t.Helper()
	if err == nil || err.Error() != "Unauthorized" || !errors.Is(err, ErrUnauthorized) {
		t.Errorf("error = %v, want exactly Unauthorized", err)
	}
	if !reflect.DeepEqual(resp, events.APIGatewayCustomAuthorizerResponse{}) {
		t.Errorf("refusal answered %#v, want the zero response", resp)
	}
}

func assertLogged(t *testing.T, logs string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
}

// assertTokenNotLogged fails if the token, or any of its segments, shows up
// in the logs.
func assertTokenNotLogged(t *testing.T, logs, token string) {
	t.Helper()
	if token == "" {
		return
	}
	if strings.Contains(logs, token) {
		t.Fatalf("logs contain the token:\n%s", logs)
	}
	for i, part := range strings.Split(token, ".") {
		if len(part) >= 8 && strings.Contains(logs, part) {
			t.Errorf("logs contain segment %d of the token:\n%s", i, logs)
		}
	}
}
