package authorizer

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"wsapi/contract"
)

func TestLoadConfig(t *testing.T) {
	valid := map[string]string{
		contract.EnvIssuerURL:       testIssuer,
		contract.EnvAudience:        testAudience,
		contract.EnvIdentitySource:  "route.request.querystring.token",
		contract.EnvAllowedTokenUse: "access",
	}
	env := func(changes map[string]string) func(string) string {
		m := map[string]string{}
		for k, v := range valid {
			m[k] = v
		}
		for k, v := range changes {
			m[k] = v
		}
		return func(k string) string { return m[k] }
	}

	access := TokenUsePolicy{allowed: []string{"access"}}
	tests := []struct {
		name    string
		getenv  func(string) string
		want    Config
		wantErr []string // substrings the error must contain; nil means success
	}{
		{
			name:   "query source, JWKS discovered",
			getenv: env(nil),
			want: Config{
				IssuerURL: testIssuer, Audience: testAudience,
				IdentitySource:  IdentitySource{kind: sourceQueryString, name: "token"},
				AllowedTokenUse: access,
			},
		},
		{
			name: "header source, JWKS set",
			getenv: env(map[string]string{
				contract.EnvIdentitySource: "route.request.header.Authorization",
				contract.EnvJWKSURL:        testIssuer + "/.well-known/jwks.json",
			}),
			want: Config{
				IssuerURL: testIssuer, Audience: testAudience, JWKSURL: testIssuer + "/.well-known/jwks.json",
				IdentitySource:  IdentitySource{kind: sourceHeader, name: "Authorization"},
				AllowedTokenUse: access,
			},
		},
		{
			name:   "token_use list, items trimmed",
			getenv: env(map[string]string{contract.EnvAllowedTokenUse: " access , id "}),
			want: Config{
				IssuerURL: testIssuer, Audience: testAudience,
				IdentitySource:  IdentitySource{kind: sourceQueryString, name: "token"},
				AllowedTokenUse: TokenUsePolicy{allowed: []string{"access", "id"}},
			},
		},
		{
			name:   "token_use not checked",
			getenv: env(map[string]string{contract.EnvAllowedTokenUse: "*"}),
			want: Config{
				IssuerURL: testIssuer, Audience: testAudience,
				IdentitySource:  IdentitySource{kind: sourceQueryString, name: "token"},
				AllowedTokenUse: TokenUsePolicy{anyUse: true},
			},
		},
		{name: "nothing set", getenv: func(string) string { return "" }, wantErr: []string{"ISSUER_URL: required", "AUDIENCE: required", "IDENTITY_SOURCE: required", "ALLOWED_TOKEN_USE: required"}},
		{name: "token_use unset", getenv: env(map[string]string{contract.EnvAllowedTokenUse: ""}), wantErr: []string{"ALLOWED_TOKEN_USE: required"}},
		{name: "token_use only white space", getenv: env(map[string]string{contract.EnvAllowedTokenUse: " \t"}), wantErr: []string{"ALLOWED_TOKEN_USE: required"}},
		{name: "token_use empty item", getenv: env(map[string]string{contract.EnvAllowedTokenUse: "access,,id"}), wantErr: []string{"ALLOWED_TOKEN_USE", "item 2", "empty"}},
		{name: "token_use trailing comma", getenv: env(map[string]string{contract.EnvAllowedTokenUse: "access, "}), wantErr: []string{"ALLOWED_TOKEN_USE", "empty"}},
		{name: "token_use item with a space", getenv: env(map[string]string{contract.EnvAllowedTokenUse: "access,i d"}), wantErr: []string{"ALLOWED_TOKEN_USE", "white space"}},
		{name: "token_use star in a list", getenv: env(map[string]string{contract.EnvAllowedTokenUse: "access,*"}), wantErr: []string{"ALLOWED_TOKEN_USE", "stand alone"}},
		{
			name:    "every problem at once",
			getenv:  env(map[string]string{contract.EnvAudience: "", contract.EnvAllowedTokenUse: ","}),
			wantErr: []string{"AUDIENCE: required", "ALLOWED_TOKEN_USE", "empty"},
		},
		{name: "issuer over http", getenv: env(map[string]string{contract.EnvIssuerURL: "http://issuer.example.com"}), wantErr: []string{"ISSUER_URL", "https"}},
		{name: "issuer not absolute", getenv: env(map[string]string{contract.EnvIssuerURL: "issuer.example.com"}), wantErr: []string{"ISSUER_URL"}},
		{name: "issuer with query", getenv: env(map[string]string{contract.EnvIssuerURL: testIssuer + "?x=1"}), wantErr: []string{"ISSUER_URL", "query"}},
		{name: "issuer with trailing space", getenv: env(map[string]string{contract.EnvIssuerURL: testIssuer + " "}), wantErr: []string{"ISSUER_URL", "white space"}},
		{name: "audience with leading space", getenv: env(map[string]string{contract.EnvAudience: " " + testAudience}), wantErr: []string{"AUDIENCE", "white space"}},
		{name: "JWKS over http", getenv: env(map[string]string{contract.EnvJWKSURL: "http://example.com/jwks.json"}), wantErr: []string{"JWKS_URL", "https"}},
		{name: "unknown source", getenv: env(map[string]string{contract.EnvIdentitySource: "method.request.header.Authorization"}), wantErr: []string{"IDENTITY_SOURCE"}},
		{name: "source without a name", getenv: env(map[string]string{contract.EnvIdentitySource: "route.request.header."}), wantErr: []string{"IDENTITY_SOURCE", "names no"}},
		{
			name:    "two sources",
			getenv:  env(map[string]string{contract.EnvIdentitySource: "route.request.header.Authorization,route.request.querystring.token"}),
			wantErr: []string{"IDENTITY_SOURCE", "exactly one"},
		},
		{name: "context variable source", getenv: env(map[string]string{contract.EnvIdentitySource: "context.identity.sourceIp"}), wantErr: []string{"IDENTITY_SOURCE"}},
		{name: "source with a space", getenv: env(map[string]string{contract.EnvIdentitySource: "route.request.querystring.to ken"}), wantErr: []string{"IDENTITY_SOURCE", "exactly one"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadConfig(tt.getenv)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("LoadConfig: %v", err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("LoadConfig = %+v, want %+v", got, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("LoadConfig = %+v, want an error", got)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			if !reflect.DeepEqual(got, Config{}) {
				t.Errorf("LoadConfig returned %+v with its error", got)
			}
		})
	}
}

func TestIdentitySourceString(t *testing.T) {
	for _, expr := range []string{"route.request.querystring.token", "route.request.header.Authorization"} {
		t.Run(expr, func(t *testing.T) {
			src, err := parseIdentitySource(expr)
			if err != nil {
				t.Fatal(err)
			}
			if got := src.String(); got != expr {
				t.Errorf("String() = %q, want %q", got, expr)
			}
		})
	}
}

// TestTokenUsePolicy pins which token_use claims each policy lets through;
// the claim arrives decoded, so nil is an absent (or null) claim.
func TestTokenUsePolicy(t *testing.T) {
	tests := []struct {
		policy  string
		claim   any
		wantErr error
	}{
		{policy: "access", claim: "access"},
		{policy: "access", claim: "id", wantErr: errTokenUseNotAllowed},
		{policy: "access", claim: "Access", wantErr: errTokenUseNotAllowed},
		{policy: "access", claim: nil, wantErr: errTokenUseMissing},
		{policy: "access", claim: "", wantErr: errTokenUseNotAllowed},
		{policy: "access", claim: []any{"access"}, wantErr: errTokenUseNotAllowed},
		{policy: "access", claim: float64(1), wantErr: errTokenUseNotAllowed},
		{policy: "access,id", claim: "id"},
		{policy: "*", claim: "anything"},
		{policy: "*", claim: nil},
		{policy: "*", claim: float64(1)},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%v", tt.policy, tt.claim), func(t *testing.T) {
			p := mustTokenUse(t, tt.policy)
			if got := p.String(); got != tt.policy {
				t.Errorf("String() = %q, want %q", got, tt.policy)
			}
			if err := p.check(tt.claim); !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Errorf("check(%#v) = %v, want %v", tt.claim, err, tt.wantErr)
			}
		})
	}
	if !(TokenUsePolicy{}).isZero() {
		t.Error("the zero policy is not reported as unset")
	}
}
