package authorizer

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode"

	"wsapi/contract"
)

// Config is the authorizer's configuration, read once at cold start.
type Config struct {
	// IssuerURL is the exact "iss" a token must carry.
	IssuerURL string
	// Audience must be one of the token's "aud" values; only a token
	// without "aud" (a Cognito access token) may match on "client_id".
	Audience string
	// JWKSURL is the issuer's key set; empty means discover it from
	// IssuerURL's OpenID configuration.
	JWKSURL string
	// IdentitySource says where in the $connect request the token is.
	IdentitySource IdentitySource
	// AllowedTokenUse is the "token_use" allow-list, or no check at all.
	AllowedTokenUse TokenUsePolicy
}

// LoadConfig reads and checks the configuration. getenv is os.Getenv in
// production; it is a parameter so tests need not touch the environment. All
// problems are reported at once, so one failed deploy shows them all.
func LoadConfig(getenv func(string) string) (Config, error) {
	var errs []error
	cfg := Config{
		IssuerURL: getenv(contract.EnvIssuerURL),
		Audience:  getenv(contract.EnvAudience),
		JWKSURL:   getenv(contract.EnvJWKSURL),
	}

	if err := checkHTTPSURL(cfg.IssuerURL); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", contract.EnvIssuerURL, err))
	}
	if err := checkValue(cfg.Audience); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", contract.EnvAudience, err))
	}
	if cfg.JWKSURL != "" {
		if err := checkHTTPSURL(cfg.JWKSURL); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", contract.EnvJWKSURL, err))
		}
	}
	src, err := parseIdentitySource(getenv(contract.EnvIdentitySource))
	if err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", contract.EnvIdentitySource, err))
	}
	cfg.IdentitySource = src
	use, err := parseTokenUsePolicy(getenv(contract.EnvAllowedTokenUse))
	if err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", contract.EnvAllowedTokenUse, err))
	}
	cfg.AllowedTokenUse = use

	if len(errs) > 0 {
		return Config{}, fmt.Errorf("invalid configuration: %w", errors.Join(errs...))
	}
	return cfg, nil
}

// checkValue refuses empty values and values with surrounding white space:
// the issuer and audience are compared byte for byte, so a stray space would
// refuse every token instead of failing here.
func checkValue(v string) error {
	switch {
	case v == "":
		return errors.New("required, not set")
	case strings.TrimSpace(v) != v:
		return errors.New("has leading or trailing white space")
	}
	return nil
}

// checkHTTPSURL accepts only absolute https URLs: the keys that decide who
// connects must not travel in the clear.
func checkHTTPSURL(v string) error {
	if err := checkValue(v); err != nil {
		return err
	}
	u, err := url.Parse(v)
	if err != nil {
		return fmt.Errorf("not a URL: %w", err)
	}
	if u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("%q is not an absolute https URL", v)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q must have no query or fragment", v)
	}
	return nil
}

// sourceKind is the part of the request an identity source names.
type sourceKind int

const (
	sourceQueryString sourceKind = iota + 1
	sourceHeader
)

// The API Gateway identity source expressions this authorizer understands.
const (
	queryStringPrefix = "route.request.querystring."
	headerPrefix      = "route.request.header."
)

// IdentitySource is one API Gateway identity source expression, parsed.
type IdentitySource struct {
	kind sourceKind
	name string
}

// parseIdentitySource parses exactly one expression, either
// route.request.querystring.<name> or route.request.header.<name>.
func parseIdentitySource(expr string) (IdentitySource, error) {
	var src IdentitySource
	switch {
	case expr == "":
		return IdentitySource{}, errors.New("required, not set")
	case strings.HasPrefix(expr, queryStringPrefix):
		src = IdentitySource{kind: sourceQueryString, name: strings.TrimPrefix(expr, queryStringPrefix)}
	case strings.HasPrefix(expr, headerPrefix):
		src = IdentitySource{kind: sourceHeader, name: strings.TrimPrefix(expr, headerPrefix)}
	default:
		return IdentitySource{}, fmt.Errorf("%q is not %s<name> or %s<name>", expr, queryStringPrefix, headerPrefix)
	}
	switch {
	case src.name == "":
		return IdentitySource{}, fmt.Errorf("%q names no parameter", expr)
	case strings.ContainsAny(src.name, ", \t\r\n"):
		// API Gateway separates several sources with commas; the
		// authorizer reads exactly one.
		return IdentitySource{}, fmt.Errorf("%q must be exactly one identity source", expr)
	}
	return src, nil
}

// String returns the expression the source was parsed from.
func (s IdentitySource) String() string {
	switch s.kind {
	case sourceQueryString:
		return queryStringPrefix + s.name
	case sourceHeader:
		return headerPrefix + s.name
	}
	return ""
}

// anyTokenUse is the ALLOWED_TOKEN_USE value that turns the check off.
const anyTokenUse = "*"

// TokenUsePolicy says which "token_use" values a token may carry. The zero
// value is not a policy: NewJWTVerifier refuses it, so forgetting to set one
// cannot silently turn the check off.
type TokenUsePolicy struct {
	anyUse  bool     // "*": any value, or none, is accepted
	allowed []string // otherwise the token must carry one of these
}

// parseTokenUsePolicy reads ALLOWED_TOKEN_USE: exactly "*", or a
// comma-separated list such as "access" or "access,id". Items are trimmed;
// an empty item or one with inner white space is refused, as is "*" inside
// a list, whose meaning would be unclear.
func parseTokenUsePolicy(v string) (TokenUsePolicy, error) {
	if strings.TrimSpace(v) == "" {
		return TokenUsePolicy{}, errors.New(`required, not set (a comma-separated list such as "access", or "*")`)
	}
	if strings.TrimSpace(v) == anyTokenUse {
		return TokenUsePolicy{anyUse: true}, nil
	}
	var allowed []string
	for i, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		switch {
		case item == "":
			return TokenUsePolicy{}, fmt.Errorf("item %d of %q is empty", i+1, v)
		case strings.IndexFunc(item, unicode.IsSpace) >= 0:
			return TokenUsePolicy{}, fmt.Errorf("item %q has white space", item)
		case item == anyTokenUse:
			return TokenUsePolicy{}, fmt.Errorf("%q: %q must stand alone", v, anyTokenUse)
		}
		if !slices.Contains(allowed, item) {
			allowed = append(allowed, item)
		}
	}
	return TokenUsePolicy{allowed: allowed}, nil
}

// check refuses a token_use claim the policy does not allow. v is the
// decoded claim: nil when absent (or null), any JSON type otherwise.
func (p TokenUsePolicy) check(v any) error {
	if p.anyUse {
		return nil
	}
	if v == nil {
		return errTokenUseMissing
	}
	// A non-string value can equal no listed value.
	if s, ok := v.(string); !ok || !slices.Contains(p.allowed, s) {
		return errTokenUseNotAllowed
	}
	return nil
}

// isZero reports an unset policy.
func (p TokenUsePolicy) isZero() bool { return !p.anyUse && len(p.allowed) == 0 }

// String returns the policy as ALLOWED_TOKEN_USE spells it, for the cold
// start log.
func (p TokenUsePolicy) String() string {
	if p.anyUse {
		return anyTokenUse
	}
	return strings.Join(p.allowed, ",")
}
