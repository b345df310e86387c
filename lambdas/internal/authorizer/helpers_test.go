package authorizer

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"wsapi/internal/testutil"
)

// Test constants. The issuer looks like Cognito's; the key set is served by
// a local TLS server and configured through JWKSURL.
const (
	testIssuer   = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC"
	testAudience = "3n4b5urk1ft4fl3mg5e62d9ado"
	testARN      = "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/$connect"
	rsaKID       = "rsa-1"
	ecKID        = "ec-1"
)

// testKeys are generated once per test binary (RSA generation is the slow
// part) and never written to disk.
type testKeys struct {
	rsa     *rsa.PrivateKey
	ec      *ecdsa.PrivateKey
	rotated *ecdsa.PrivateKey
}

var (
	keysOnce sync.Once
	keys     testKeys
)

func loadKeys(t *testing.T) testKeys {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		if keys.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if keys.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
		if keys.rotated, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
	})
	return keys
}

// jwksServer is a fake issuer: it serves a key set and an OpenID
// configuration, and counts the requests for each.
type jwksServer struct {
	*httptest.Server
	issuer string // what the discovery document names

	mu         sync.Mutex
	keys       []jwkset.JWKMarshal
	jwksStatus int
	jwksBody   []byte // served as is instead of keys when set

	jwksHits      atomic.Int64
	discoveryHits atomic.Int64
}

// newJWKSServer serves the RSA and EC test keys. It is closed when the test
// ends, which also closes the client's idle connections.
func newJWKSServer(t *testing.T) *jwksServer {
	t.Helper()
	k := loadKeys(t)
	s := &jwksServer{jwksStatus: http.StatusOK}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /jwks.json", func(w http.ResponseWriter, _ *http.Request) {
		s.jwksHits.Add(1)
		s.mu.Lock()
		status, body, set := s.jwksStatus, s.jwksBody, jwkset.JWKSMarshal{Keys: append([]jwkset.JWKMarshal(nil), s.keys...)}
		s.mu.Unlock()
		if status != http.StatusOK {
			w.WriteHeader(status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if body != nil {
			_, _ = w.Write(body)
			return
		}
		_ = json.NewEncoder(w).Encode(set)
	})
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		s.discoveryHits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"issuer":   s.issuer,
			"jwks_uri": s.URL + "/jwks.json",
		})
	})
	s.Server = httptest.NewTLSServer(mux)
	s.issuer = s.URL
	t.Cleanup(s.Close)

	s.addKey(t, rsaKID, &k.rsa.PublicKey, jwkset.AlgRS256)
	s.addKey(t, ecKID, &k.ec.PublicKey, jwkset.AlgES256)
	return s
}

// addKey publishes a public key, as an issuer does before rotating to it.
func (s *jwksServer) addKey(t *testing.T, kid string, pub any, alg jwkset.ALG) {
	t.Helper()
	jwk, err := jwkset.NewJWKFromKey(pub, jwkset.JWKOptions{
		Metadata: jwkset.JWKMetadataOptions{KID: kid, ALG: alg, USE: jwkset.UseSig},
	})
	if err != nil {
		t.Fatalf("JWK for %s: %v", kid, err)
	}
	s.publish(jwk)
}

// publish adds jwk to the set as it is.
func (s *jwksServer) publish(jwk jwkset.JWK) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append(s.keys, jwk.Marshal())
}

// serve makes the key set answer status, with the body of fixture (a file
// in testdata) if not "", or else the published keys.
func (s *jwksServer) serve(t *testing.T, status int, fixture string) {
	t.Helper()
	var body []byte
	if fixture != "" {
		var err error
		if body, err = os.ReadFile(filepath.Join("testdata", fixture)); err != nil {
			t.Fatal(err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jwksStatus, s.jwksBody = status, body
}

// dropKeys unpublishes every key, as an issuer completing a rotation does.
func (s *jwksServer) dropKeys() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = nil
}

func (s *jwksServer) jwksURL() string { return s.URL + "/jwks.json" }

// testTokenUse is the token_use policy of verifiers built by newVerifier:
// the base claims are an ID token, some rows an access token.
const testTokenUse = "access,id"

// mustTokenUse parses an ALLOWED_TOKEN_USE value.
func mustTokenUse(t *testing.T, v string) TokenUsePolicy {
	t.Helper()
	p, err := parseTokenUsePolicy(v)
	if err != nil {
		t.Fatalf("token_use policy %q: %v", v, err)
	}
	return p
}

// newVerifier builds a verifier on the server with production defaults, bar
// the HTTP client, which must trust the test server's certificate.
func newVerifier(t *testing.T, s *jwksServer, opts VerifierOptions) *JWTVerifier {
	t.Helper()
	if opts.IssuerURL == "" {
		opts.IssuerURL = testIssuer
	}
	if opts.Audience == "" {
		opts.Audience = testAudience
	}
	if opts.AllowedTokenUse.isZero() {
		opts.AllowedTokenUse = mustTokenUse(t, testTokenUse)
	}
	if opts.JWKSURL == "" && opts.IssuerURL == testIssuer {
		opts.JWKSURL = s.jwksURL()
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = s.Client()
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := NewJWTVerifier(ctx, opts)
	if err != nil {
		t.Fatalf("NewJWTVerifier: %v", err)
	}
	return v
}

// baseClaims are those of a valid Cognito ID token; rows change them.
func baseClaims() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"iss":              testIssuer,
		"aud":              testAudience,
		"sub":              "2f1c9a7e-0b6d-4b8e-9f3a-111111111111",
		"cognito:username": "alice",
		"email":            "alice@example.com",
		"token_use":        "id",
		"iat":              now.Add(-time.Minute).Unix(),
		"exp":              now.Add(time.Hour).Unix(),
	}
}

// with returns a copy of c with changes applied; a nil value deletes.
func with(c jwt.MapClaims, changes map[string]any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range c {
		out[k] = v
	}
	for k, v := range changes {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return out
}

// signPayload signs payload as it is, unlike sign, whose encoder escapes
// U+2028 as six bytes; a token can carry it as three.
func signPayload(t *testing.T, kid string, key *rsa.PrivateKey, payload []byte) string {
	t.Helper()
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"RS256","kid":"` + kid + `","typ":"JWT"}`))
	signingString := header + "." + enc.EncodeToString(payload)
	sig, err := jwt.SigningMethodRS256.Sign(signingString, key)
	if err != nil {
		t.Fatalf("sign payload: %v", err)
	}
	return signingString + "." + enc.EncodeToString(sig)
}

// sign returns a compact JWT; kid "" leaves the header without one.
func sign(t *testing.T, method jwt.SigningMethod, kid string, key any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign %s: %v", method.Alg(), err)
	}
	return s
}

// newTestLogger logs JSON at DEBUG, so a test sees every record.
func newTestLogger() (*slog.Logger, *testutil.LockedBuffer) {
	b := &testutil.LockedBuffer{}
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// connectRequest is a $connect authorizer event carrying token in the
// "token" query string parameter.
func connectRequest(token string) Request {
	r := Request{ConnectionID: "Lk9zJdxyIAMCJ-w="}
	r.Type = "REQUEST"
	r.MethodArn = testARN
	r.RequestContext.RequestID = "Lk9zJHtNIAMFZxA="
	if token != "" {
		r.QueryStringParameters = map[string]string{"token": token}
	}
	return r
}
