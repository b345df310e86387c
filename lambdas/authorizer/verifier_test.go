package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

// TestUnknownKIDRefetchIsRateLimited shows the key set is fetched once at
// cold start, once more for the first unknown kid, and not again for a second
// unknown kid inside the limiter's window, even if the key has appeared.
func TestUnknownKIDRefetchIsRateLimited(t *testing.T) {
	k := loadKeys(t)
	srv := newJWKSServer(t)
	v := newVerifier(t, srv, VerifierOptions{}) // default limiter: one refetch per 5 minutes
	if got := srv.jwksHits.Load(); got != 1 {
		t.Fatalf("cold start fetched the key set %d times, want 1", got)
	}

	steps := []struct {
		name     string
		prepare  func()
		kid      string
		wantErr  error
		wantHits int64
	}{
		{name: "first unknown kid refetches", kid: "unknown-1", wantErr: errUnknownKID, wantHits: 2},
		{name: "second unknown kid does not", kid: "unknown-2", wantErr: errUnknownKID, wantHits: 2},
		{
			name:     "a key published inside the window waits for it",
			prepare:  func() { srv.addKey(t, "ec-2", &k.rotated.PublicKey, jwkset.AlgES256) },
			kid:      "ec-2",
			wantErr:  errUnknownKID,
			wantHits: 2,
		},
		{name: "known kid needs no fetch", kid: ecKID, wantHits: 2},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			if step.prepare != nil {
				step.prepare()
			}
			key := k.ec
			if step.kid == "ec-2" {
				key = k.rotated
			}
			token := sign(t, jwt.SigningMethodES256, step.kid, key, baseClaims())

			start := time.Now()
			_, err := v.Verify(context.Background(), token)
			elapsed := time.Since(start)

			if !errors.Is(err, step.wantErr) || (step.wantErr == nil) != (err == nil) {
				t.Errorf("Verify error = %v, want %v", err, step.wantErr)
			}
			if got := srv.jwksHits.Load(); got != step.wantHits {
				t.Errorf("key set fetched %d times, want %d", got, step.wantHits)
			}
			// A refetch that is not allowed must fail, not wait the
			// limiter's 5 minutes; the bound leaves room for a busy machine.
			if elapsed > 10*time.Second {
				t.Errorf("Verify took %v", elapsed)
			}
		})
	}
}

// TestKeyRotation shows a key the issuer publishes after cold start is
// picked up by the first token that names it, then served from the cache.
func TestKeyRotation(t *testing.T) {
	k := loadKeys(t)
	srv := newJWKSServer(t)
	v := newVerifier(t, srv, VerifierOptions{})

	srv.addKey(t, "ec-2", &k.rotated.PublicKey, jwkset.AlgES256)
	token := sign(t, jwt.SigningMethodES256, "ec-2", k.rotated, baseClaims())
	for i, wantHits := range []int64{2, 2} {
		claims, err := v.Verify(context.Background(), token)
		if err != nil {
			t.Fatalf("Verify #%d: %v", i+1, err)
		}
		if claims.Subject == "" {
			t.Errorf("Verify #%d: no subject", i+1)
		}
		if got := srv.jwksHits.Load(); got != wantHits {
			t.Errorf("after Verify #%d the key set was fetched %d times, want %d", i+1, got, wantHits)
		}
	}
	// Keys that were there before the rotation still verify.
	if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, rsaKID, k.rsa, baseClaims())); err != nil {
		t.Errorf("old key after rotation: %v", err)
	}
}

// TestDiscovery builds the verifier with no JWKS URL: it reads jwks_uri from
// the issuer's OpenID configuration.
func TestDiscovery(t *testing.T) {
	k := loadKeys(t)
	srv := newJWKSServer(t)
	v := newVerifier(t, srv, VerifierOptions{IssuerURL: srv.URL})

	if got, want := v.JWKSURL(), srv.jwksURL(); got != want {
		t.Errorf("JWKSURL() = %q, want %q", got, want)
	}
	if got := srv.discoveryHits.Load(); got != 1 {
		t.Errorf("discovery document fetched %d times, want 1", got)
	}
	if got := srv.jwksHits.Load(); got != 1 {
		t.Errorf("key set fetched %d times, want 1", got)
	}
	token := sign(t, jwt.SigningMethodRS256, rsaKID, k.rsa, with(baseClaims(), map[string]any{"iss": srv.URL}))
	if _, err := v.Verify(context.Background(), token); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

// TestNewJWTVerifierFails covers cold starts that must fail rather than
// serve without keys.
func TestNewJWTVerifierFails(t *testing.T) {
	// discovery serves doc, with {{URL}} replaced by the server's URL.
	discovery := func(status int, doc string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			fmt.Fprint(w, strings.ReplaceAll(doc, "{{URL}}", "https://"+r.Host))
		}
	}
	hang := func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

	tests := []struct {
		name      string
		handler   http.HandlerFunc
		discover  bool // leave JWKSURL empty
		opts      VerifierOptions
		wantInErr string
	}{
		{name: "key set answers 500", handler: discovery(http.StatusInternalServerError, ""), wantInErr: "fetch JWKS"},
		{name: "key set is not JSON", handler: discovery(http.StatusOK, "<html>"), wantInErr: "fetch JWKS"},
		{name: "key set is empty", handler: discovery(http.StatusOK, `{"keys":[]}`), wantInErr: "no usable keys"},
		{
			name:      "key set has only unsupported keys",
			handler:   discovery(http.StatusOK, `{"keys":[{"kty":"OKP","crv":"Ed448","x":"AAAA","kid":"x"}]}`),
			wantInErr: "no usable keys",
		},
		{name: "key set times out", handler: hang, wantInErr: "fetch JWKS"},
		{name: "discovery answers 404", handler: discovery(http.StatusNotFound, ""), discover: true, wantInErr: "404"},
		{name: "discovery times out", handler: hang, discover: true, wantInErr: "discover JWKS URL"},
		{name: "discovery is not JSON", handler: discovery(http.StatusOK, "nope"), discover: true, wantInErr: "decode"},
		{
			name:      "discovery names another issuer",
			handler:   discovery(http.StatusOK, `{"issuer":"https://evil.example.com","jwks_uri":"{{URL}}/jwks.json"}`),
			discover:  true,
			wantInErr: "names issuer",
		},
		{
			name:      "discovery has no jwks_uri",
			handler:   discovery(http.StatusOK, `{"issuer":"{{URL}}"}`),
			discover:  true,
			wantInErr: "jwks_uri",
		},
		{
			name:      "discovered jwks_uri is plain http",
			handler:   discovery(http.StatusOK, `{"issuer":"{{URL}}","jwks_uri":"http://example.com/jwks.json"}`),
			discover:  true,
			wantInErr: "https",
		},
		{name: "no audience", handler: discovery(http.StatusOK, "{}"), opts: VerifierOptions{IssuerURL: testIssuer}, wantInErr: "required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewTLSServer(tt.handler)
			t.Cleanup(srv.Close)
			opts := tt.opts
			if opts.IssuerURL == "" {
				opts = VerifierOptions{IssuerURL: testIssuer, Audience: testAudience, JWKSURL: srv.URL + "/jwks.json"}
				if tt.discover {
					opts.IssuerURL, opts.JWKSURL = srv.URL, ""
				}
			}
			opts.HTTPClient = srv.Client()
			opts.FetchTimeout = 100 * time.Millisecond
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()

			start := time.Now()
			v, err := NewJWTVerifier(ctx, opts)
			if err == nil {
				t.Fatalf("NewJWTVerifier succeeded with JWKS URL %q", v.JWKSURL())
			}
			if !strings.Contains(err.Error(), tt.wantInErr) {
				t.Errorf("error %q does not mention %q", err, tt.wantInErr)
			}
			// The server never answers: without the 100 ms fetch timeout
			// this would not return at all.
			if elapsed := time.Since(start); elapsed > 10*time.Second {
				t.Errorf("took %v; the fetch timeout is not applied", elapsed)
			}
		})
	}
}

// TestVerifyConcurrently exercises the shared cache and limiter under -race.
func TestVerifyConcurrently(t *testing.T) {
	k := loadKeys(t)
	srv := newJWKSServer(t)
	v := newVerifier(t, srv, VerifierOptions{})
	valid := sign(t, jwt.SigningMethodRS256, rsaKID, k.rsa, baseClaims())
	unknown := sign(t, jwt.SigningMethodRS256, "unknown", k.rsa, baseClaims())

	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			token, wantErr := valid, error(nil)
			if i%4 == 0 {
				token, wantErr = unknown, errUnknownKID
			}
			if _, err := v.Verify(context.Background(), token); !errors.Is(err, wantErr) || (wantErr == nil) != (err == nil) {
				errs <- fmt.Errorf("goroutine %d: Verify error %v, want %v", i, err, wantErr)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := srv.jwksHits.Load(); got != 2 {
		t.Errorf("key set fetched %d times, want 2 (cold start, one refetch)", got)
	}
}

// TestNoGoroutineLeak builds and uses verifiers in subtests and checks that
// nothing they started outlives them.
func TestNoGoroutineLeak(t *testing.T) {
	k := loadKeys(t)
	before := runtime.NumGoroutine()
	for i := range 3 {
		t.Run(fmt.Sprintf("verifier %d", i), func(t *testing.T) {
			srv := newJWKSServer(t)
			v := newVerifier(t, srv, VerifierOptions{IssuerURL: srv.URL}) // with discovery
			claims := with(baseClaims(), map[string]any{"iss": srv.URL})
			if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, rsaKID, k.rsa, claims)); err != nil {
				t.Fatal(err)
			}
			if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, "unknown", k.rsa, claims)); !errors.Is(err, errUnknownKID) {
				t.Fatalf("unknown kid: %v", err)
			}
		})
	}

	// Connections close asynchronously after the servers do.
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines before, %d after:\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}

// TestRefusalReason pins the mapping of library and package errors to the
// logged reasons, including the precedence when several apply.
func TestRefusalReason(t *testing.T) {
	wrap := func(errs ...error) error { return fmt.Errorf("verify token: %w", errors.Join(errs...)) }
	tests := []struct {
		err  error
		want string
	}{
		{errMissingToken, "missing_token"},
		{errTokenTooLarge, "token_too_large"},
		{wrap(errAlgNotAllowed, jwt.ErrTokenSignatureInvalid), "alg_not_allowed"},
		{wrap(jwt.ErrTokenMalformed), "malformed"},
		{wrap(jwt.ErrTokenUnverifiable, errUnknownKID, keyfunc.ErrKeyfunc), "unknown_kid"},
		{wrap(jwt.ErrTokenUnverifiable, keyfunc.ErrKeyfunc), "key_mismatch"},
		{wrap(jwt.ErrTokenSignatureInvalid), "bad_signature"},
		{wrap(jwt.ErrTokenInvalidClaims, jwt.ErrTokenExpired, jwt.ErrTokenInvalidIssuer), "bad_issuer"},
		{wrap(jwt.ErrTokenInvalidClaims, jwt.ErrTokenRequiredClaimMissing), "missing_claim"},
		{wrap(jwt.ErrTokenInvalidClaims, jwt.ErrTokenExpired), "expired"},
		{wrap(jwt.ErrTokenInvalidClaims, jwt.ErrTokenNotValidYet), "not_yet_valid"},
		{wrap(jwt.ErrTokenInvalidClaims, jwt.ErrTokenUsedBeforeIssued), "issued_in_future"},
		{wrap(errBadAudience), "bad_audience"},
		{wrap(errMissingSubject), "missing_sub"},
		{wrap(errClaimTooLarge), "claim_too_large"},
		{errMissingMethodARN, "missing_method_arn"},
		{wrap(jwt.ErrTokenUnverifiable), "unverifiable"},
		{errors.New("something else"), "invalid_token"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got, _ := refusalReason(tt.err); got != tt.want {
				t.Errorf("refusalReason(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}
