package devissuer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxDocumentBytes bounds what CheckServing reads from a server: the
// issuer's documents are a few hundred bytes.
const maxDocumentBytes = 64 << 10

// CheckServing reports whether issuerURL is served by an issuer with this
// state: its discovery document names issuerURL and its key set holds this
// issuer's signing key, over TLS with a certificate from this issuer's CA.
// A nil error means a token from Token(issuerURL, ...) verifies there, as
// far as the issuer is concerned. Only this CA is trusted, never the
// system's roots. ctx bounds the requests.
func (i *Issuer) CheckServing(ctx context.Context, issuerURL string) error {
	if _, err := checkIssuerURL(issuerURL); err != nil {
		return err
	}
	roots := x509.NewCertPool()
	roots.AddCert(i.caCert)
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS13},
		// Straight to loopback, whatever the environment's proxy says.
		Proxy: nil,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{
		Transport: tr,
		// The documents are served directly; a redirect is someone else.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}

	var doc discoveryDocument
	discovery := strings.TrimSuffix(issuerURL, "/") + discoveryPath
	if err := getJSON(ctx, client, discovery, &doc); err != nil {
		return err
	}
	if doc.Issuer != issuerURL {
		return fmt.Errorf("%s names issuer %q, not %q", discovery, doc.Issuer, issuerURL)
	}
	var set struct {
		Keys []struct {
			KID string `json:"kid"`
		} `json:"keys"`
	}
	if err := getJSON(ctx, client, doc.JWKSURI, &set); err != nil {
		return err
	}
	for _, k := range set.Keys {
		if k.KID == i.kid {
			return nil
		}
	}
	return fmt.Errorf("%s does not publish this state directory's signing key (kid %s): the issuer runs with other keys", doc.JWKSURI, i.kid)
}

func getJSON(ctx context.Context, client *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentBytes))
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return nil
}
