package devissuer

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

const testAudience = "wsapi-dev"

// discoverKeyfunc does what the authorizer does at cold start: read jwks_uri
// from the discovery document, check the document names the issuer, and
// fetch the key set with keyfunc.
func discoverKeyfunc(t *testing.T, client *http.Client, issuerURL string) keyfunc.Keyfunc {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, issuerURL+"/.well-known/openid-configuration", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	defer resp.Body.Close()
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatalf("discovery: %v", err)
	}
	if doc.Issuer != issuerURL || !strings.HasPrefix(doc.JWKSURI, "https://") {
		t.Fatalf("discovery: issuer %q, jwks_uri %q", doc.Issuer, doc.JWKSURI)
	}
	// No RefreshInterval: no background goroutine to outlive the test.
	storage, err := jwkset.NewStorageFromHTTP(doc.JWKSURI, jwkset.HTTPClientStorageOptions{Client: client, Ctx: ctx})
	if err != nil {
		t.Fatalf("fetch key set: %v", err)
	}
	kf, err := keyfunc.New(keyfunc.Options{Storage: storage, UseWhitelist: []jwkset.USE{jwkset.UseSig}})
	if err != nil {
		t.Fatal(err)
	}
	return kf
}

// authorizerParser checks what the authorizer's parser checks.
func authorizerParser(issuerURL string) *jwt.Parser {
	return jwt.NewParser(
		jwt.WithValidMethods([]string{"RS256", "ES256"}),
		jwt.WithIssuer(issuerURL),
		jwt.WithAudience(testAudience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(30*time.Second),
	)
}

func TestTokenVerifiesAgainstServedKeySet(t *testing.T) {
	iss, _ := openTemp(t)
	srv := startServer(t, iss)
	kf := discoverKeyfunc(t, trustingClient(t, iss), srv.URL)

	other, _ := openTemp(t)
	mint := func(iss *Issuer, c Claims) func(t *testing.T) string {
		return func(t *testing.T) string {
			t.Helper()
			tok, err := iss.Token(srv.URL, c)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
	}
	alice := Claims{Subject: "alice", Audience: testAudience, Username: "alice", Email: "alice@example.com", Scope: "chat.read chat.write"}

	tests := []struct {
		name      string
		token     func(t *testing.T) string
		parser    *jwt.Parser
		wantErrIs error // nil: the token must verify
	}{
		{name: "alice", token: mint(iss, alice)},
		{name: "minimal claims", token: mint(iss, Claims{Subject: "bob", Audience: testAudience})},
		{
			name: "tampered payload",
			token: func(t *testing.T) string {
				return replacePayload(t, mint(iss, alice)(t), func(c map[string]any) { c["sub"] = "mallory" })
			},
			wantErrIs: jwt.ErrTokenSignatureInvalid,
		},
		{
			name: "tampered signature",
			token: func(t *testing.T) string {
				tok := mint(iss, alice)(t)
				i := strings.LastIndexByte(tok, '.') + 1
				sig, err := base64.RawURLEncoding.DecodeString(tok[i:])
				if err != nil {
					t.Fatal(err)
				}
				sig[0] ^= 0x01
				return tok[:i] + base64.RawURLEncoding.EncodeToString(sig)
			},
			wantErrIs: jwt.ErrTokenSignatureInvalid,
		},
		{
			name:      "signed by another issuer's key",
			token:     mint(other, alice),
			wantErrIs: jwt.ErrTokenUnverifiable,
		},
		{
			name:      "wrong issuer expected",
			token:     mint(iss, alice),
			parser:    authorizerParser("https://127.0.0.1:1"),
			wantErrIs: jwt.ErrTokenInvalidIssuer,
		},
		{
			name:      "wrong audience",
			token:     mint(iss, Claims{Subject: "alice", Audience: "someone-else"}),
			wantErrIs: jwt.ErrTokenInvalidAudience,
		},
		{
			name:      "expired",
			token:     mint(iss, Claims{Subject: "alice", Audience: testAudience, NotBefore: time.Now().Add(-2 * time.Hour), TTL: time.Hour}),
			wantErrIs: jwt.ErrTokenExpired,
		},
		{
			name:      "not valid yet",
			token:     mint(iss, Claims{Subject: "alice", Audience: testAudience, NotBefore: time.Now().Add(time.Hour)}),
			wantErrIs: jwt.ErrTokenNotValidYet,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.parser
			if p == nil {
				p = authorizerParser(srv.URL)
			}
			var claims jwt.RegisteredClaims
			_, err := p.ParseWithClaims(tt.token(t), &claims, kf.KeyfuncCtx(t.Context()))
			if tt.wantErrIs == nil {
				if err != nil {
					t.Fatalf("token refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("token accepted (sub %q), want %v", claims.Subject, tt.wantErrIs)
			}
			if !errors.Is(err, tt.wantErrIs) {
				t.Errorf("error %v, want %v", err, tt.wantErrIs)
			}
		})
	}
}

// replacePayload rewrites a token's payload and keeps its header and
// signature.
func replacePayload(t *testing.T, tok string, edit func(map[string]any)) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	edit(c)
	raw, err = json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString(raw)
	return strings.Join(parts, ".")
}

// decode returns a token's header and payload, unverified.
func decode(t *testing.T, tok string) (header, payload map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	for i, dst := range []*map[string]any{&header, &payload} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			t.Fatal(err)
		}
	}
	return header, payload
}

func TestTokenClaims(t *testing.T) {
	iss, _ := openTemp(t)
	const issuerURL = "https://127.0.0.1:8443"
	nbf := time.Now().Add(-10 * time.Minute).Truncate(time.Second)

	tests := []struct {
		name   string
		claims Claims
		want   map[string]any
	}{
		{
			name:   "all claims",
			claims: Claims{Subject: "alice", Audience: testAudience, Username: "alice1", Email: "alice@example.com", Scope: "a b", TTL: 5 * time.Minute, NotBefore: nbf},
			want: map[string]any{
				"iss": issuerURL, "sub": "alice", "aud": []any{testAudience},
				"nbf": float64(nbf.Unix()), "iat": float64(nbf.Unix()), "exp": float64(nbf.Add(5 * time.Minute).Unix()),
				"username": "alice1", "email": "alice@example.com", "scope": "a b", "token_use": "access",
			},
		},
		{
			name:   "optional claims omitted",
			claims: Claims{Subject: "bob", Audience: testAudience, NotBefore: nbf},
			want: map[string]any{
				"iss": issuerURL, "sub": "bob", "aud": []any{testAudience},
				"nbf": float64(nbf.Unix()), "iat": float64(nbf.Unix()), "exp": float64(nbf.Add(time.Hour).Unix()),
				"token_use": "access",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := iss.Token(issuerURL, tt.claims)
			if err != nil {
				t.Fatal(err)
			}
			header, payload := decode(t, tok)
			wantHeader := map[string]any{"alg": "ES256", "typ": "JWT", "kid": iss.kid}
			if !reflect.DeepEqual(header, wantHeader) {
				t.Errorf("header %v, want %v", header, wantHeader)
			}
			if !reflect.DeepEqual(payload, tt.want) {
				t.Errorf("payload\n got %v\nwant %v", payload, tt.want)
			}
		})
	}
}

func TestTokenTimes(t *testing.T) {
	iss, _ := openTemp(t)
	now := time.Now()
	tests := []struct {
		name                  string
		claims                Claims
		wantNBF, wantIAT, exp time.Time
	}{
		{"defaults: now, one hour", Claims{}, now, now, now.Add(time.Hour)},
		{"custom TTL", Claims{TTL: 90 * time.Second}, now, now, now.Add(90 * time.Second)},
		{"past not-before: issued then", Claims{NotBefore: now.Add(-3 * time.Hour)}, now.Add(-3 * time.Hour), now.Add(-3 * time.Hour), now.Add(-2 * time.Hour)},
		{"future not-before: issued now", Claims{NotBefore: now.Add(time.Hour), TTL: time.Minute}, now.Add(time.Hour), now, now.Add(time.Hour + time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.claims.Subject, tt.claims.Audience = "alice", testAudience
			tok, err := iss.Token("https://localhost:8443", tt.claims)
			if err != nil {
				t.Fatal(err)
			}
			_, payload := decode(t, tok)
			for name, want := range map[string]time.Time{"nbf": tt.wantNBF, "iat": tt.wantIAT, "exp": tt.exp} {
				got, _ := payload[name].(float64)
				// Seconds precision, plus the time the test takes.
				if d := time.Unix(int64(got), 0).Sub(want); d < -2*time.Second || d > 2*time.Second {
					t.Errorf("%s = %v, want about %v", name, time.Unix(int64(got), 0), want)
				}
			}
		})
	}
}

func TestTokenErrors(t *testing.T) {
	iss, _ := openTemp(t)
	ok := Claims{Subject: "alice", Audience: testAudience}
	with := func(edit func(*Claims)) Claims {
		c := ok
		edit(&c)
		return c
	}
	tests := []struct {
		name      string
		issuerURL string
		claims    Claims
		wantErr   bool
	}{
		{"valid", "https://127.0.0.1:8443", ok, false},
		{"subject of 256 bytes", "https://127.0.0.1:8443", with(func(c *Claims) { c.Subject = strings.Repeat("a", 256) }), false},
		{"empty subject", "https://127.0.0.1:8443", with(func(c *Claims) { c.Subject = "" }), true},
		{"subject of 257 bytes", "https://127.0.0.1:8443", with(func(c *Claims) { c.Subject = strings.Repeat("a", 257) }), true},
		{"empty audience", "https://127.0.0.1:8443", with(func(c *Claims) { c.Audience = "" }), true},
		{"negative TTL", "https://127.0.0.1:8443", with(func(c *Claims) { c.TTL = -time.Second }), true},
		{"empty issuer", "", ok, true},
		{"http issuer", "http://127.0.0.1:8443", ok, true},
		{"relative issuer", "127.0.0.1:8443", ok, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := iss.Token(tt.issuerURL, tt.claims)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error %v", err, tt.wantErr)
			}
			if err != nil && (tok != "" || !strings.HasPrefix(err.Error(), "mint token: ")) {
				t.Errorf("token %q, error %q: want no token and a mint token error", tok, err)
			}
		})
	}
}

// TestConcurrentUse mints tokens and serves the key set from many
// goroutines; run with -race.
func TestConcurrentUse(t *testing.T) {
	iss, _ := openTemp(t)
	srv := startServer(t, iss)
	client := trustingClient(t, iss)
	kf := discoverKeyfunc(t, client, srv.URL)
	p := authorizerParser(srv.URL)

	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 16 {
		wg.Go(func() {
			tok, err := iss.Token(srv.URL, Claims{Subject: fmt.Sprint("user-", i), Audience: testAudience})
			if err == nil {
				_, err = p.Parse(tok, kf.KeyfuncCtx(context.Background()))
			}
			if err != nil {
				errs <- err
			}
		})
		wg.Go(func() {
			resp, err := client.Get(srv.URL + "/.well-known/jwks.json")
			if err != nil {
				errs <- err
				return
			}
			_ = resp.Body.Close()
			_ = iss.TLSConfig()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
