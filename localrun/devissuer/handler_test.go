package devissuer

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

func TestHandlerOverTLS(t *testing.T) {
	iss, _ := openTemp(t)
	srv := startServer(t, iss)
	client := trustingClient(t, iss)

	tests := []struct {
		method, path string
		wantStatus   int
		check        func(t *testing.T, body []byte)
	}{
		{http.MethodGet, "/.well-known/openid-configuration", http.StatusOK, func(t *testing.T, body []byte) {
			var doc map[string]any
			if err := json.Unmarshal(body, &doc); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{
				"issuer":                                srv.URL,
				"jwks_uri":                              srv.URL + "/.well-known/jwks.json",
				"id_token_signing_alg_values_supported": []any{"ES256"},
				"response_types_supported":              []any{"code"},
				"subject_types_supported":               []any{"public"},
			}
			if !reflect.DeepEqual(doc, want) {
				t.Errorf("discovery document %v, want %v", doc, want)
			}
		}},
		{http.MethodGet, "/.well-known/jwks.json", http.StatusOK, func(t *testing.T, body []byte) {
			var set struct {
				Keys []map[string]any `json:"keys"`
			}
			if err := json.Unmarshal(body, &set); err != nil {
				t.Fatal(err)
			}
			if len(set.Keys) != 1 {
				t.Fatalf("%d keys, want 1", len(set.Keys))
			}
			k := set.Keys[0]
			for name, want := range map[string]string{"kid": iss.kid, "alg": "ES256", "use": "sig", "kty": "EC", "crv": "P-256"} {
				if k[name] != want {
					t.Errorf("%s = %v, want %s", name, k[name], want)
				}
			}
			for _, name := range []string{"x", "y"} {
				if s, _ := k[name].(string); s == "" {
					t.Errorf("no %s coordinate", name)
				}
			}
			if _, ok := k["d"]; ok {
				t.Error("key set publishes the private key")
			}
		}},
		{http.MethodGet, "/", http.StatusNotFound, nil},
		{http.MethodGet, "/.well-known/other", http.StatusNotFound, nil},
		{http.MethodGet, "/.well-known/jwks.json/", http.StatusNotFound, nil},
		{http.MethodPost, "/.well-known/jwks.json", http.StatusMethodNotAllowed, nil},
		{http.MethodPut, "/.well-known/openid-configuration", http.StatusMethodNotAllowed, nil},
		{http.MethodHead, "/.well-known/openid-configuration", http.StatusMethodNotAllowed, nil},
		{http.MethodDelete, "/elsewhere", http.StatusNotFound, nil},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tt.method, srv.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			switch resp.StatusCode {
			case http.StatusOK:
				if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type %q, want application/json", ct)
				}
			case http.StatusMethodNotAllowed:
				if allow := resp.Header.Get("Allow"); allow != http.MethodGet {
					t.Errorf("Allow %q, want GET", allow)
				}
			}
			if tt.check != nil {
				tt.check(t, body)
			}
		})
	}
}

func TestHandlerIssuerURLs(t *testing.T) {
	iss, _ := openTemp(t)
	tests := []struct {
		issuerURL, path string
		wantStatus      int
		wantJWKSURI     string
	}{
		{"https://127.0.0.1:8443", "/.well-known/openid-configuration", http.StatusOK, "https://127.0.0.1:8443/.well-known/jwks.json"},
		// The authorizer strips one trailing slash before the well-known
		// path but compares the issuer as is.
		{"https://127.0.0.1:8443/", "/.well-known/openid-configuration", http.StatusOK, "https://127.0.0.1:8443/.well-known/jwks.json"},
		{"https://localhost:8443/pool", "/pool/.well-known/openid-configuration", http.StatusOK, "https://localhost:8443/pool/.well-known/jwks.json"},
		{"https://localhost:8443/pool", "/pool/.well-known/jwks.json", http.StatusOK, ""},
		{"https://localhost:8443/pool", "/.well-known/openid-configuration", http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.issuerURL+" "+tt.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			iss.Handler(tt.issuerURL).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d", rec.Code, tt.wantStatus)
			}
			if tt.wantJWKSURI == "" {
				return
			}
			var doc discoveryDocument
			if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			if doc.Issuer != tt.issuerURL || doc.JWKSURI != tt.wantJWKSURI {
				t.Errorf("issuer %q, jwks_uri %q; want %q, %q", doc.Issuer, doc.JWKSURI, tt.issuerURL, tt.wantJWKSURI)
			}
		})
	}
}

func TestHandlerPanicsOnBadIssuerURL(t *testing.T) {
	iss, _ := openTemp(t)
	for _, u := range []string{"", "http://127.0.0.1:8443", "127.0.0.1:8443", "https://", "https://h/?q=1", "https://h/#f"} {
		t.Run(u, func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(r.(string), "devissuer") {
					t.Errorf("Handler(%q) did not panic with a devissuer message: %v", u, r)
				}
			}()
			iss.Handler(u)
		})
	}
}
