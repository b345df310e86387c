package devissuer

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// copyState copies the named state files of src into a new directory.
func copyState(t *testing.T, src string, names ...string) string {
	t.Helper()
	dst := t.TempDir()
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// TestCheckServing: only a server with this state, under this URL, passes.
func TestCheckServing(t *testing.T) {
	iss, dir := openTemp(t)
	srv := startServer(t, iss)
	other, _ := openTemp(t)
	otherSrv := startServer(t, other)
	// Same CA (so TLS succeeds), another signing key.
	sameCA, err := Open(copyState(t, dir, caCertFileName, caKeyFileName, serverCertFileName, serverKeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	sameCASrv := startServer(t, sameCA)
	// Same keys, serving another issuer URL.
	misnamed := httptest.NewUnstartedServer(iss.Handler("https://127.0.0.1:1"))
	misnamed.TLS = iss.TLSConfig()
	misnamed.Config.ErrorLog = log.New(io.Discard, "", 0)
	misnamed.StartTLS()
	t.Cleanup(misnamed.Close)
	// Nothing listens on a port just closed.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "https://" + ln.Addr().String()
	ln.Close()

	for _, tc := range []struct {
		name, url string
		wantErr   string // "" for success
	}{
		{name: "this issuer", url: srv.URL},
		{name: "another state directory", url: otherSrv.URL, wantErr: "certificate"},
		{name: "same CA, other signing key", url: sameCASrv.URL, wantErr: "does not publish"},
		{name: "another issuer URL", url: misnamed.URL, wantErr: "names issuer"},
		{name: "nothing listening", url: closed, wantErr: "connection refused"},
		{name: "not https", url: "http://" + strings.TrimPrefix(srv.URL, "https://"), wantErr: "https"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := iss.CheckServing(ctx, tc.url)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("CheckServing(%s): %v", tc.url, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("CheckServing(%s) = %v, want an error containing %q", tc.url, err, tc.wantErr)
			}
		})
	}
}

// TestTLSOtherLoopbackAddress: a server on 127.1.2.3 (the local run with
// --host 127.1.2.3) presents a certificate the CA vouches for.
func TestTLSOtherLoopbackAddress(t *testing.T) {
	iss, _ := openTemp(t)
	ln, err := net.Listen("tcp", "127.1.2.3:0")
	if err != nil {
		t.Skipf("127.1.2.3 is not usable here (only Linux routes all of 127/8): %v", err)
	}
	issuerURL := "https://" + ln.Addr().String()
	srv := &httptest.Server{
		Listener: ln,
		Config:   &http.Server{Handler: iss.Handler(issuerURL), ErrorLog: log.New(io.Discard, "", 0)},
		TLS:      iss.TLSConfig(),
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	client := trustingClient(t, iss)
	for range 2 { // the second handshake uses the cached certificate
		resp, err := client.Get(issuerURL + discoveryPath)
		if err != nil {
			t.Fatalf("GET over TLS on 127.1.2.3: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %s", resp.Status)
		}
		client.CloseIdleConnections()
	}
	if err := iss.CheckServing(context.Background(), issuerURL); err != nil {
		t.Errorf("CheckServing: %v", err)
	}
}
