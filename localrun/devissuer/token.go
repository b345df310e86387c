package devissuer

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	// signingAlg is the only algorithm the issuer signs with, and one of
	// the two the authorizer accepts.
	signingAlg = "ES256"
	// defaultTTL is a token's lifetime when Claims.TTL is zero.
	defaultTTL = time.Hour
	// maxSubjectBytes bounds the subject.
	maxSubjectBytes = 256
	// tokenUse is what Cognito puts in its access tokens.
	tokenUse = "access"
)

// Claims describe a token to mint.
type Claims struct {
	// Subject is "sub": required, at most 256 bytes.
	Subject string
	// Audience is "aud": required, the audience the authorizer expects.
	Audience string
	// Username, Email and Scope become "username", "email" and "scope"
	// (space separated) when not empty.
	Username string
	Email    string
	Scope    string
	// TTL is the lifetime from NotBefore; zero means one hour.
	TTL time.Duration
	// NotBefore is "nbf"; zero means now. With a past NotBefore and a
	// short TTL the token is already expired, with a future one it is not
	// valid yet.
	NotBefore time.Time
}

// tokenClaims is the token payload.
type tokenClaims struct {
	jwt.RegisteredClaims
	Username string `json:"username,omitempty"`
	Email    string `json:"email,omitempty"`
	Scope    string `json:"scope,omitempty"`
	TokenUse string `json:"token_use"`
}

// Token mints an ES256 access token, signed with the issuer's key and
// naming its kid, with "iss" issuerURL, "sub", "aud", "exp", "iat", "nbf",
// "token_use" "access", and "username", "email" and "scope" when set.
// "iat" is now, or NotBefore if that is earlier, so a token back-dated to
// test expiry does not claim to be issued in the future.
func (i *Issuer) Token(issuerURL string, c Claims) (string, error) {
	if _, err := checkIssuerURL(issuerURL); err != nil {
		return "", fmt.Errorf("mint token: %w", err)
	}
	switch {
	case c.Subject == "":
		return "", errors.New("mint token: subject is required")
	case len(c.Subject) > maxSubjectBytes:
		return "", fmt.Errorf("mint token: subject is %d bytes, more than %d", len(c.Subject), maxSubjectBytes)
	case c.Audience == "":
		// The authorizer refuses a token without its audience.
		return "", errors.New("mint token: audience is required")
	case c.TTL < 0:
		return "", fmt.Errorf("mint token: negative TTL %s", c.TTL)
	}
	ttl := c.TTL
	if ttl == 0 {
		ttl = defaultTTL
	}
	now := time.Now()
	nbf := c.NotBefore
	if nbf.IsZero() {
		nbf = now
	}
	iat := now
	if nbf.Before(iat) {
		iat = nbf
	}

	t := jwt.NewWithClaims(jwt.SigningMethodES256, tokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    issuerURL,
			Subject:   c.Subject,
			Audience:  jwt.ClaimStrings{c.Audience},
			ExpiresAt: jwt.NewNumericDate(nbf.Add(ttl)),
			NotBefore: jwt.NewNumericDate(nbf),
			IssuedAt:  jwt.NewNumericDate(iat),
		},
		Username: c.Username,
		Email:    c.Email,
		Scope:    c.Scope,
		TokenUse: tokenUse,
	})
	t.Header["kid"] = i.kid
	s, err := t.SignedString(i.signingKey)
	if err != nil {
		return "", fmt.Errorf("mint token: sign: %w", err)
	}
	return s, nil
}
