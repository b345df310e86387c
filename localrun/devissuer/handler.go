package devissuer

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// The well-known paths, relative to the issuer URL's path.
const (
	discoveryPath = "/.well-known/openid-configuration"
	jwksPath      = "/.well-known/jwks.json"
)

// discoveryDocument is the part of the OpenID Provider Metadata (OpenID
// Connect Discovery 1.0, section 3) this issuer can honestly claim; the
// authorizer reads issuer and jwks_uri.
type discoveryDocument struct {
	Issuer                           string   `json:"issuer"`
	JWKSURI                          string   `json:"jwks_uri"`
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported"`
	ResponseTypesSupported           []string `json:"response_types_supported"`
	SubjectTypesSupported            []string `json:"subject_types_supported"`
}

// Handler serves the issuer's OpenID configuration and key set:
//
//	GET <path>/.well-known/openid-configuration
//	GET <path>/.well-known/jwks.json  (the public key only: kid, alg ES256, use sig)
//
// where <path> is issuerURL's path, usually empty: discovery fetches
// issuerURL + "/.well-known/openid-configuration". The document names
// issuerURL, byte for byte, as its issuer, since the authorizer compares
// them exactly. Other paths answer 404 and other methods 405.
//
// issuerURL must be an absolute https URL with no query or fragment, the
// authorizer's own rule; Handler panics otherwise, as it is a programming
// error in the local run.
func (i *Issuer) Handler(issuerURL string) http.Handler {
	u, err := checkIssuerURL(issuerURL)
	if err != nil {
		panic(fmt.Sprintf("devissuer: Handler: %v", err))
	}
	base := strings.TrimSuffix(issuerURL, "/")
	doc, err := json.Marshal(discoveryDocument{
		Issuer:                           issuerURL,
		JWKSURI:                          base + jwksPath,
		IDTokenSigningAlgValuesSupported: []string{signingAlg},
		// Required members; this issuer has no authorization endpoint, so
		// the values are nominal.
		ResponseTypesSupported: []string{"code"},
		SubjectTypesSupported:  []string{"public"},
	})
	if err != nil {
		// Only strings: cannot fail.
		panic(fmt.Sprintf("devissuer: Handler: encode discovery document: %v", err))
	}

	prefix := strings.TrimSuffix(u.Path, "/")
	docs := map[string][]byte{
		prefix + discoveryPath: doc,
		prefix + jwksPath:      i.jwks,
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := docs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		// The keys change when the state directory is recreated; a
		// cached copy would make fresh tokens fail.
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(body)
	})
}

// checkIssuerURL applies the authorizer's rule for its issuer URL.
func checkIssuerURL(issuerURL string) (*url.URL, error) {
	u, err := url.Parse(issuerURL)
	if err != nil {
		return nil, fmt.Errorf("issuer URL: %w", err)
	}
	if u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return nil, fmt.Errorf("issuer URL %q is not an absolute https URL without query or fragment", issuerURL)
	}
	return u, nil
}
