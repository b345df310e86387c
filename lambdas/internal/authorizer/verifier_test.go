package authorizer

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"wsapi/internal/testutil"
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

// TestJWKSRefreshKeepsCachedKeys has the issuer serve broken key sets and
// forces a refetch after each, with a token naming an unknown key ID and a
// limiter that always allows it: the keys cached before must still verify.
func TestJWKSRefreshKeepsCachedKeys(t *testing.T) {
	k := loadKeys(t)
	srv := newJWKSServer(t)
	logger, logs := newTestLogger()
	v := newVerifier(t, srv, VerifierOptions{UnknownKIDLimiter: rate.NewLimiter(rate.Inf, 1), Logger: logger})
	known := []string{
		sign(t, jwt.SigningMethodRS256, rsaKID, k.rsa, baseClaims()),
		sign(t, jwt.SigningMethodES256, ecKID, k.ec, baseClaims()),
	}
	unknown := sign(t, jwt.SigningMethodES256, "unknown", k.ec, baseClaims())
	for i, token := range known {
		if _, err := v.Verify(context.Background(), token); err != nil {
			t.Fatalf("token %d before any refresh: %v", i, err)
		}
	}

	steps := []struct {
		name    string
		status  int
		fixture string // in testdata
	}{
		{name: "empty set", status: http.StatusOK, fixture: "jwks_empty.json"},
		// It reuses the cached key IDs: an HMAC key as rsa-1 and an
		// encryption key as ec-1.
		{name: "only unusable keys", status: http.StatusOK, fixture: "jwks_unusable.json"},
		{name: "invalid JSON", status: http.StatusOK, fixture: "jwks_invalid.json"},
		{name: "HTTP 500", status: http.StatusInternalServerError},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			srv.serve(t, step.status, step.fixture)
			hits := srv.jwksHits.Load()

			if _, err := v.Verify(context.Background(), unknown); !errors.Is(err, errUnknownKID) {
				t.Fatalf("unknown kid: %v, want %v", err, errUnknownKID)
			}
			if got := srv.jwksHits.Load(); got != hits+1 {
				t.Fatalf("key set fetched %d times for the unknown kid, want 1", got-hits)
			}
			for i, token := range known {
				if _, err := v.Verify(context.Background(), token); err != nil {
					t.Errorf("token %d signed with a cached key: %v", i, err)
				}
			}
			assertLogged(t, logs.String(), `"level":"WARN","msg":"JWKS refresh failed, cached keys kept"`)
		})
	}
}

// TestJWKSRefreshTakesRotatedSet shows a refetched set with a usable key
// replaces the cache whole: its new key verifies, and keys it no longer
// publishes are revoked. Unusable keys beside the usable one do not stop it.
func TestJWKSRefreshTakesRotatedSet(t *testing.T) {
	k := loadKeys(t)
	srv := newJWKSServer(t)
	v := newVerifier(t, srv, VerifierOptions{UnknownKIDLimiter: rate.NewLimiter(rate.Inf, 1)})
	old := sign(t, jwt.SigningMethodRS256, rsaKID, k.rsa, baseClaims())
	if _, err := v.Verify(context.Background(), old); err != nil {
		t.Fatalf("before the rotation: %v", err)
	}

	srv.dropKeys()
	srv.addKey(t, "ec-2", &k.rotated.PublicKey, jwkset.AlgES256)
	hmac, err := jwkset.NewJWKFromKey([]byte("a symmetric key, unusable here"), jwkset.JWKOptions{
		Marshal:  jwkset.JWKMarshalOptions{Private: true},
		Metadata: jwkset.JWKMetadataOptions{KID: "hmac-1", ALG: jwkset.AlgHS256},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.publish(hmac)

	if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodES256, "ec-2", k.rotated, baseClaims())); err != nil {
		t.Errorf("rotated key: %v", err)
	}
	if _, err := v.Verify(context.Background(), old); !errors.Is(err, errUnknownKID) {
		t.Errorf("key dropped by the rotation: %v, want %v", err, errUnknownKID)
	}
}

// TestUsableSigningKey pins which keys let a refetched set replace the
// cache.
func TestUsableSigningKey(t *testing.T) {
	k := loadKeys(t)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		key  any
		alg  jwkset.ALG
		use  jwkset.USE
		want bool
	}{
		{name: "RSA, RS256, sig", key: &k.rsa.PublicKey, alg: jwkset.AlgRS256, use: jwkset.UseSig, want: true},
		{name: "RSA, no alg, no use", key: &k.rsa.PublicKey, want: true},
		{name: "RSA private key, RS256", key: k.rsa, alg: jwkset.AlgRS256, want: true},
		{name: "RSA, RS384", key: &k.rsa.PublicKey, alg: jwkset.AlgRS384},
		{name: "RSA, for encryption", key: &k.rsa.PublicKey, use: jwkset.UseEnc},
		{name: "EC P-256, ES256, sig", key: &k.ec.PublicKey, alg: jwkset.AlgES256, use: jwkset.UseSig, want: true},
		{name: "EC P-256, no alg", key: &k.ec.PublicKey, want: true},
		{name: "EC P-256, for encryption", key: &k.ec.PublicKey, use: jwkset.UseEnc},
		{name: "EC P-256, RS256", key: &k.ec.PublicKey, alg: jwkset.AlgRS256},
		{name: "EC P-384", key: &p384.PublicKey, alg: jwkset.AlgES384},
		{name: "Ed25519", key: ed.Public(), alg: jwkset.AlgEdDSA},
		{name: "HMAC", key: []byte("secret"), alg: jwkset.AlgHS256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jwk, err := jwkset.NewJWKFromKey(tt.key, jwkset.JWKOptions{
				Marshal:  jwkset.JWKMarshalOptions{Private: true},
				Metadata: jwkset.JWKMetadataOptions{KID: "k", ALG: tt.alg, USE: tt.use},
			})
			if err != nil {
				t.Fatalf("JWK: %v", err)
			}
			if got := usableSigningKey(jwk); got != tt.want {
				t.Errorf("usableSigningKey = %v, want %v", got, tt.want)
			}
		})
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
	fixture := func(name string) http.HandlerFunc {
		body, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) }
	}
	access := mustTokenUse(t, "access")

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
		{name: "key set has only keys unusable for RS256 or ES256 signatures", handler: fixture("jwks_unusable.json"), wantInErr: "no usable keys"},
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
		{name: "no audience", handler: discovery(http.StatusOK, "{}"), opts: VerifierOptions{IssuerURL: testIssuer, AllowedTokenUse: access}, wantInErr: "required"},
		{
			name:      "no token_use policy",
			handler:   discovery(http.StatusOK, "{}"),
			opts:      VerifierOptions{IssuerURL: testIssuer, Audience: testAudience, JWKSURL: testIssuer + "/jwks.json"},
			wantInErr: "required",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewTLSServer(tt.handler)
			t.Cleanup(srv.Close)
			opts := tt.opts
			if opts.IssuerURL == "" {
				opts = VerifierOptions{IssuerURL: testIssuer, Audience: testAudience, AllowedTokenUse: access, JWKSURL: srv.URL + "/jwks.json"}
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
	testutil.Poll(2*time.Second, func() bool { return runtime.NumGoroutine() <= before })
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
		{wrap(errTokenUseMissing), "token_use_missing"},
		{wrap(errTokenUseNotAllowed), "token_use_not_allowed"},
		{fmt.Errorf("authorize: %w", errResultTooLarge), "result_too_large"},
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
