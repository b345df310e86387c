package devissuer

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestSSLCertFileTrustsCA proves the assumption the local run rests on: a Go
// process started with SSL_CERT_FILE=<CAFile> trusts the issuer's TLS
// certificate with its default HTTP client, as the authorizer does, and
// without it does not. It builds testdata/fetch and runs it as a separate
// process, since the system roots are loaded once per process.
func TestSSLCertFileTrustsCA(t *testing.T) {
	switch runtime.GOOS {
	case "darwin", "ios", "windows", "android", "plan9":
		// crypto/x509 asks the platform verifier (or has its own root
		// store) there and ignores SSL_CERT_FILE.
		t.Skipf("crypto/x509 does not read SSL_CERT_FILE on %s", runtime.GOOS)
	}
	if testing.Short() {
		t.Skip("builds a helper program")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to build the helper: %v", err)
	}
	fetch := filepath.Join(t.TempDir(), "fetch")
	build := exec.CommandContext(t.Context(), goTool, "build", "-o", fetch, "./testdata/fetch")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./testdata/fetch: %v\n%s", err, out)
	}

	iss, _ := openTemp(t)
	srv := startServer(t, iss)
	other, _ := openTemp(t)

	tests := []struct {
		name        string
		sslCertFile string // empty: unset
		wantOut     string
		wantErr     string
	}{
		{name: "SSL_CERT_FILE is the issuer's CA", sslCertFile: iss.CAFile(), wantOut: "200"},
		{name: "no SSL_CERT_FILE", wantErr: "x509: certificate signed by unknown authority"},
		{name: "SSL_CERT_FILE is another CA", sslCertFile: other.CAFile(), wantErr: "x509: certificate signed by unknown authority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), fetch, srv.URL+"/.well-known/jwks.json")
			cmd.Env = environWithout("SSL_CERT_FILE", "SSL_CERT_DIR")
			if tt.sslCertFile != "" {
				cmd.Env = append(cmd.Env, "SSL_CERT_FILE="+tt.sslCertFile)
			}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("fetch: %v\n%s", err, stderr.String())
				}
				if got := strings.TrimSpace(stdout.String()); got != tt.wantOut {
					t.Errorf("fetch printed %q, want %q", got, tt.wantOut)
				}
				return
			}
			if err == nil {
				t.Fatalf("fetch succeeded (%s), want %q", strings.TrimSpace(stdout.String()), tt.wantErr)
			}
			if !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("fetch failed with %q, want %q", stderr.String(), tt.wantErr)
			}
		})
	}
}

// environWithout is the test's environment minus the named variables, so a
// developer's own SSL_CERT_FILE cannot decide the outcome.
func environWithout(names ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		keep := true
		for _, n := range names {
			if name == n {
				keep = false
			}
		}
		if keep {
			env = append(env, kv)
		}
	}
	return env
}
