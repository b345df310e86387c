package main

import (
	"reflect"
	"strings"
	"testing"
)

func TestLoadConfig(t *testing.T) {
	valid := map[string]string{
		envIssuerURL:      testIssuer,
		envAudience:       testAudience,
		envIdentitySource: "route.request.querystring.token",
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
				IdentitySource: IdentitySource{kind: sourceQueryString, name: "token"},
			},
		},
		{
			name: "header source, JWKS set",
			getenv: env(map[string]string{
				envIdentitySource: "route.request.header.Authorization",
				envJWKSURL:        testIssuer + "/.well-known/jwks.json",
			}),
			want: Config{
				IssuerURL: testIssuer, Audience: testAudience, JWKSURL: testIssuer + "/.well-known/jwks.json",
				IdentitySource: IdentitySource{kind: sourceHeader, name: "Authorization"},
			},
		},
		{name: "nothing set", getenv: func(string) string { return "" }, wantErr: []string{"ISSUER_URL: required", "AUDIENCE: required", "IDENTITY_SOURCE: required"}},
		{name: "issuer over http", getenv: env(map[string]string{envIssuerURL: "http://issuer.example.com"}), wantErr: []string{"ISSUER_URL", "https"}},
		{name: "issuer not absolute", getenv: env(map[string]string{envIssuerURL: "issuer.example.com"}), wantErr: []string{"ISSUER_URL"}},
		{name: "issuer with query", getenv: env(map[string]string{envIssuerURL: testIssuer + "?x=1"}), wantErr: []string{"ISSUER_URL", "query"}},
		{name: "issuer with trailing space", getenv: env(map[string]string{envIssuerURL: testIssuer + " "}), wantErr: []string{"ISSUER_URL", "white space"}},
		{name: "audience with leading space", getenv: env(map[string]string{envAudience: " " + testAudience}), wantErr: []string{"AUDIENCE", "white space"}},
		{name: "JWKS over http", getenv: env(map[string]string{envJWKSURL: "http://example.com/jwks.json"}), wantErr: []string{"JWKS_URL", "https"}},
		{name: "unknown source", getenv: env(map[string]string{envIdentitySource: "method.request.header.Authorization"}), wantErr: []string{"IDENTITY_SOURCE"}},
		{name: "source without a name", getenv: env(map[string]string{envIdentitySource: "route.request.header."}), wantErr: []string{"IDENTITY_SOURCE", "names no"}},
		{
			name:    "two sources",
			getenv:  env(map[string]string{envIdentitySource: "route.request.header.Authorization,route.request.querystring.token"}),
			wantErr: []string{"IDENTITY_SOURCE", "exactly one"},
		},
		{name: "context variable source", getenv: env(map[string]string{envIdentitySource: "context.identity.sourceIp"}), wantErr: []string{"IDENTITY_SOURCE"}},
		{name: "source with a space", getenv: env(map[string]string{envIdentitySource: "route.request.querystring.to ken"}), wantErr: []string{"IDENTITY_SOURCE", "exactly one"}},
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
			src, err := ParseIdentitySource(expr)
			if err != nil {
				t.Fatal(err)
			}
			if got := src.String(); got != expr {
				t.Errorf("String() = %q, want %q", got, expr)
			}
		})
	}
}
