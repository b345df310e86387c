package authorizer

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

const (
	// maxTokenBytes bounds what is handed to the parser at all.
	maxTokenBytes = 8192
	// leeway absorbs clock skew between the issuer and Lambda.
	leeway = 30 * time.Second
	// defaultFetchTimeout bounds each discovery and key set request, so a
	// slow issuer cannot eat the function's whole timeout.
	defaultFetchTimeout = 3 * time.Second
	// defaultUnknownKIDInterval is how often a token with an unknown key ID
	// may make the verifier refetch the key set: often enough to pick up a
	// rotation, rarely enough that forged key IDs cannot hammer the issuer.
	defaultUnknownKIDInterval = 5 * time.Minute
	// maxDiscoveryBytes bounds the OpenID configuration document read.
	maxDiscoveryBytes = 1 << 20
)

// errNoUsableKeys refuses a key set, at cold start or on a refresh.
var errNoUsableKeys = errors.New("no usable keys")

// allowedAlgs is the signature allow-list: the asymmetric algorithms Cognito
// and common issuers use. Anything else ("none", HS256 with a public key as
// the secret, ...) is refused before a key is even looked up.
var allowedAlgs = []string{jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg()}

// VerifierOptions configure NewJWTVerifier. IssuerURL, Audience and
// AllowedTokenUse are required; everything else has a production default.
type VerifierOptions struct {
	IssuerURL string
	Audience  string
	// AllowedTokenUse is the "token_use" allow-list (see Config).
	AllowedTokenUse TokenUsePolicy
	// JWKSURL is the issuer's key set; empty means discover it.
	JWKSURL string
	// HTTPClient fetches the discovery document and the key set. Default:
	// a client whose requests time out after FetchTimeout.
	HTTPClient *http.Client
	// FetchTimeout bounds each fetch. Default 3 s.
	FetchTimeout time.Duration
	// UnknownKIDLimiter rations key set refetches on unknown key IDs.
	// Default: one every 5 minutes.
	UnknownKIDLimiter *rate.Limiter
	// Now is the clock for exp, nbf and iat. Default time.Now.
	Now func() time.Time
	// Logger receives key set refresh failures. Default slog.Default().
	Logger *slog.Logger
}

// JWTVerifier verifies tokens against one issuer's key set. It is safe for
// concurrent use.
type JWTVerifier struct {
	audience string
	tokenUse TokenUsePolicy
	jwksURL  string
	keys     keyfunc.Keyfunc
	parser   *jwt.Parser
}

var _ TokenVerifier = (*JWTVerifier)(nil)

// NewJWTVerifier discovers the key set URL if needed and fetches the key set
// once; either failing is an error, so a cold start with no keys fails
// instead of refusing every token until the next refetch is allowed.
//
// ctx bounds the cold-start fetches. No goroutine outlives this call: the
// key set is refetched only when a token names an unknown key ID, within
// that token's Verify call.
func NewJWTVerifier(ctx context.Context, opts VerifierOptions) (*JWTVerifier, error) {
	if opts.IssuerURL == "" || opts.Audience == "" || opts.AllowedTokenUse.isZero() {
		return nil, errors.New("new JWT verifier: issuer URL, audience and allowed token_use are required")
	}
	timeout := opts.FetchTimeout
	if timeout <= 0 {
		timeout = defaultFetchTimeout
	}
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: timeout}
	}
	limiter := opts.UnknownKIDLimiter
	if limiter == nil {
		limiter = rate.NewLimiter(rate.Every(defaultUnknownKIDInterval), 1)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}

	jwksURL := opts.JWKSURL
	if jwksURL == "" {
		var err error
		if jwksURL, err = discoverJWKSURL(ctx, client, opts.IssuerURL, timeout); err != nil {
			return nil, fmt.Errorf("new JWT verifier: %w", err)
		}
	}

	remote, err := jwkset.NewStorageFromHTTP(jwksURL, jwkset.HTTPClientStorageOptions{
		Client:      client,
		Ctx:         ctx,
		HTTPTimeout: timeout,
		// RefreshInterval stays 0: no background refresh goroutine. A
		// Lambda container is short lived and frozen between invocations;
		// refetching on an unknown key ID is enough to follow rotations.
		RefreshErrorHandler: func(ctx context.Context, err error) {
			logger.WarnContext(ctx, "JWKS refresh failed, cached keys kept", "jwksURL", jwksURL, "error", err)
		},
		// jwkset keeps the cache when a fetch fails or does not decode,
		// but swaps in whatever a decoded set holds, even nothing; this
		// storage refuses such a swap. At cold start the same refusal
		// fails the fetch: an issuer with no usable keys would refuse
		// every token as unknown_kid until a refetch is allowed.
		Storage: keepUsableStorage{jwkset.NewMemoryStorage()},
	})
	if err != nil {
		return nil, fmt.Errorf("new JWT verifier: fetch JWKS %s: %w", jwksURL, err)
	}
	storage, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs: map[string]jwkset.Storage{jwksURL: remote},
		// jwkset waits for the limiter only up to this limit, which also
		// bounds the refetch. With the default interval far above it, a
		// refetch not allowed yet fails at once and the token is refused
		// as unknown_kid instead of holding the connection open.
		RateLimitWaitMax:  timeout,
		RefreshUnknownKID: limiter,
	})
	if err != nil {
		return nil, fmt.Errorf("new JWT verifier: key storage: %w", err)
	}
	keys, err := keyfunc.New(keyfunc.Options{
		Storage: unknownKIDStorage{storage},
		// Keys published for encryption must not verify signatures; many
		// issuers leave "use" out, which means any use.
		UseWhitelist: []jwkset.USE{jwkset.UseSig, ""},
	})
	if err != nil {
		return nil, fmt.Errorf("new JWT verifier: keyfunc: %w", err)
	}

	return &JWTVerifier{
		audience: opts.Audience,
		tokenUse: opts.AllowedTokenUse,
		jwksURL:  jwksURL,
		keys:     keys,
		parser: jwt.NewParser(
			jwt.WithValidMethods(allowedAlgs),
			jwt.WithIssuer(opts.IssuerURL),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(leeway),
			jwt.WithTimeFunc(now),
		),
	}, nil
}

// JWKSURL is the key set URL in use, configured or discovered.
func (v *JWTVerifier) JWKSURL() string { return v.jwksURL }

// tokenClaims are the claims read from a token. A claim of an unexpected
// JSON type (a numeric email, say) makes the token malformed and refused;
// token_use is the exception, as the "*" policy accepts any value.
type tokenClaims struct {
	jwt.RegisteredClaims
	// Audience shadows RegisteredClaims.Audience, which cannot tell an
	// absent "aud" from an empty list; only an absent one lets client_id
	// stand in.
	Audience          audienceClaim `json:"aud"`
	TokenUse          any           `json:"token_use"`
	ClientID          string        `json:"client_id"`
	CognitoUsername   string        `json:"cognito:username"`
	Username          string        `json:"username"`
	PreferredUsername string        `json:"preferred_username"`
	Email             string        `json:"email"`
	// Scope is a space-separated string in OAuth 2.0 but a list at some
	// issuers; ClaimStrings reads both.
	Scope jwt.ClaimStrings `json:"scope"`
}

// Verify checks token and returns its claims. Errors wrap the library's
// error or one of this package's sentinels; refusalReason names them.
// They may quote parts of the token (its key ID, say): log the reason only.
func (v *JWTVerifier) Verify(ctx context.Context, token string) (Claims, error) {
	switch {
	case token == "":
		return Claims{}, errMissingToken
	case len(token) > maxTokenBytes:
		return Claims{}, errTokenTooLarge
	}

	var c tokenClaims
	parsed, err := v.parser.ParseWithClaims(token, &c, v.keys.KeyfuncCtx(ctx))
	if err != nil {
		// jwt reports a refused alg as a bad signature; tell them apart.
		// A header that does not decode has no alg to judge.
		if parsed != nil && !errors.Is(err, jwt.ErrTokenMalformed) && !algAllowed(parsed.Header["alg"]) {
			return Claims{}, fmt.Errorf("verify token: %w: %w", errAlgNotAllowed, err)
		}
		return Claims{}, fmt.Errorf("verify token: %w", err)
	}

	if c.Subject == "" {
		return Claims{}, fmt.Errorf("verify token: %w", errMissingSubject)
	}
	if !c.audienceMatches(v.audience) {
		return Claims{}, fmt.Errorf("verify token: %w", errBadAudience)
	}
	if err := v.tokenUse.check(c.TokenUse); err != nil {
		return Claims{}, fmt.Errorf("verify token: %w", err)
	}
	return Claims{
		Subject:  c.Subject,
		Username: firstNonEmpty(c.CognitoUsername, c.Username, c.PreferredUsername),
		Email:    c.Email,
		Scope:    strings.Join(c.Scope, " "),
	}, nil
}

// audienceMatches applies the audience rule. A token with "aud" (a string,
// a list, even an empty one) must name audience there: an access token for
// another API must not get in because its client_id is ours. client_id
// stands in only when "aud" is absent, as in Cognito access tokens.
func (c tokenClaims) audienceMatches(audience string) bool {
	if c.Audience.present {
		return slices.Contains(c.Audience.values, audience)
	}
	return c.ClientID == audience
}

// GetAudience makes the shadowed claim the one jwt sees, should a parser
// option ever check it.
func (c tokenClaims) GetAudience() (jwt.ClaimStrings, error) { return c.Audience.values, nil }

// audienceClaim is "aud" and whether the token has it at all.
type audienceClaim struct {
	present bool
	values  jwt.ClaimStrings
}

// UnmarshalJSON is called for any "aud" member, null included, and never
// for an absent one. A value neither a string nor a list of strings makes
// the token malformed, as jwt.ClaimStrings decides.
func (a *audienceClaim) UnmarshalJSON(data []byte) error {
	a.present = true
	return a.values.UnmarshalJSON(data)
}

func algAllowed(alg any) bool {
	s, ok := alg.(string)
	return ok && slices.Contains(allowedAlgs, s)
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// unknownKIDStorage marks failed key lookups with errUnknownKID. jwkset fails
// a lookup only once the cache missed and a refetch either missed too or was
// not allowed yet by the limiter; its errors differ between those cases.
type unknownKIDStorage struct {
	jwkset.Storage
}

func (s unknownKIDStorage) KeyRead(ctx context.Context, kid string) (jwkset.JWK, error) {
	jwk, err := s.Storage.KeyRead(ctx, kid)
	if err != nil {
		return jwkset.JWK{}, fmt.Errorf("%w: %w", errUnknownKID, err)
	}
	return jwk, nil
}

// keepUsableStorage is the key cache. jwkset's refresh replaces it with
// KeyReplaceAll; a set with no key this verifier could use is refused, so
// the keys cached before stay, and tokens signed with them still verify
// while the issuer serves a broken set. A set with at least one usable key
// replaces the cache whole, unusable keys included (keyfunc refuses those
// per token), so a rotation that drops a key revokes it.
type keepUsableStorage struct {
	jwkset.Storage
}

func (s keepUsableStorage) KeyReplaceAll(ctx context.Context, given []jwkset.JWK) error {
	if !slices.ContainsFunc(given, usableSigningKey) {
		return fmt.Errorf("%w: the key set has %d keys jwkset accepts, none an RS256 or ES256 signature key", errNoUsableKeys, len(given))
	}
	return s.Storage.KeyReplaceAll(ctx, given)
}

// usableSigningKey reports whether jwk can verify a token this verifier
// accepts: an RSA key, or an EC key on P-256, whose "alg" (if any) matches
// it and whose "use" (if any) is "sig", the checks keyfunc makes per token.
func usableSigningKey(jwk jwkset.JWK) bool {
	m := jwk.Marshal()
	if m.USE != "" && m.USE != jwkset.UseSig {
		return false
	}
	key := jwk.Key()
	// keyfunc verifies with the public half of a published private key.
	if pk, ok := key.(interface{ Public() crypto.PublicKey }); ok {
		key = pk.Public()
	}
	var alg jwkset.ALG
	switch key := key.(type) {
	case *rsa.PublicKey:
		alg = jwkset.AlgRS256
	case *ecdsa.PublicKey:
		if key.Curve != elliptic.P256() {
			return false
		}
		alg = jwkset.AlgES256
	default:
		return false
	}
	return m.ALG == "" || m.ALG == alg
}

// discoverJWKSURL reads jwks_uri from the issuer's OpenID configuration.
func discoverJWKSURL(ctx context.Context, client *http.Client, issuer string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	// OpenID Connect Discovery 1.0, section 4: the issuer without a
	// trailing slash, then the well-known path.
	u := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("discover JWKS URL: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("discover JWKS URL: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("discover JWKS URL: %s answered %s", u, resp.Status)
	}

	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxDiscoveryBytes)).Decode(&doc); err != nil {
		return "", fmt.Errorf("discover JWKS URL: decode %s: %w", u, err)
	}
	// Section 4.3: the document must name the issuer it was fetched for,
	// or its keys are someone else's.
	if doc.Issuer != issuer {
		return "", fmt.Errorf("discover JWKS URL: %s names issuer %q, want %q", u, doc.Issuer, issuer)
	}
	if err := checkHTTPSURL(doc.JWKSURI); err != nil {
		return "", fmt.Errorf("discover JWKS URL: jwks_uri: %w", err)
	}
	return doc.JWKSURI, nil
}
