package devissuer

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"
)

// openTemp opens an issuer in a fresh temporary directory.
func openTemp(t *testing.T) (*Issuer, string) {
	t.Helper()
	dir := t.TempDir()
	iss, err := Open(dir)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return iss, dir
}

// startServer serves iss over TLS on loopback with its own certificate and
// returns the server, whose URL is the issuer URL.
func startServer(t *testing.T, iss *Issuer) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	// The unstarted server already listens, so the issuer URL is known
	// before the handler is needed.
	issuerURL := "https://" + srv.Listener.Addr().String()
	srv.Config.Handler = iss.Handler(issuerURL)
	srv.TLS = iss.TLSConfig()
	// Handshakes fail on purpose in the SSL_CERT_FILE test; keep the
	// server's complaints out of the test output.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	if srv.URL != issuerURL {
		t.Fatalf("server URL %s, want %s", srv.URL, issuerURL)
	}
	return srv
}

// trustingClient is an HTTP client that trusts only the issuer's CA, read
// from CAFile as SSL_CERT_FILE would be.
func trustingClient(t *testing.T, iss *Issuer) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(iss.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no certificate", iss.CAFile())
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: roots}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}
