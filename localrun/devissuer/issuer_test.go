package devissuer

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

var stateFiles = []struct {
	name    string
	mode    fs.FileMode
	pemType string
}{
	{signingKeyFileName, 0o600, "PRIVATE KEY"},
	{caKeyFileName, 0o600, "PRIVATE KEY"},
	{caCertFileName, 0o644, "CERTIFICATE"},
	{serverKeyFileName, 0o600, "PRIVATE KEY"},
	{serverCertFileName, 0o644, "CERTIFICATE"},
}

// readState returns the contents of every state file.
func readState(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	m := make(map[string][]byte)
	for _, f := range stateFiles {
		b, err := os.ReadFile(filepath.Join(dir, f.name))
		if err != nil {
			t.Fatal(err)
		}
		m[f.name] = b
	}
	return m
}

func TestOpenCreatesFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "devissuer")
	iss, err := Open(dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}

	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != 0o700 {
		t.Errorf("directory mode %v, want 0700", got)
	}
	if got, want := iss.CAFile(), filepath.Join(dir, "ca.pem"); got != want {
		t.Errorf("CAFile() = %s, want %s", got, want)
	}

	for _, f := range stateFiles {
		t.Run(f.name, func(t *testing.T) {
			path := filepath.Join(dir, f.name)
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := st.Mode(); got != f.mode {
				t.Errorf("mode %v, want %v", got, f.mode)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			block, rest := pem.Decode(b)
			if block == nil || block.Type != f.pemType || len(bytes.TrimSpace(rest)) != 0 {
				t.Errorf("want exactly one %s PEM block", f.pemType)
			}
		})
	}

	// No temporary files left behind: only the state files and the lock.
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(entries), len(stateFiles)+1; got != want {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want %d entries", names, want)
	}
}

func TestOpenReopenKeepsState(t *testing.T) {
	first, dir := openTemp(t)
	before := readState(t, dir)

	second, err := Open(dir)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	if first.kid != second.kid {
		t.Errorf("kid changed: %s, then %s", first.kid, second.kid)
	}
	if !first.signingKey.Equal(second.signingKey) {
		t.Error("signing key changed")
	}
	if !first.caCert.Equal(second.caCert) {
		t.Error("CA certificate changed")
	}
	if !first.serverCert.Leaf.Equal(second.serverCert.Leaf) {
		t.Error("server certificate changed")
	}
	if !bytes.Equal(first.jwks, second.jwks) {
		t.Error("key set changed")
	}
	for name, b := range readState(t, dir) {
		if !bytes.Equal(b, before[name]) {
			t.Errorf("%s rewritten", name)
		}
	}
}

func TestOpenConcurrentFirstUse(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	const n = 8
	issuers := make([]*Issuer, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { issuers[i], errs[i] = Open(dir) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Open %d: %v", i, errs[i])
		}
		if issuers[i].kid != issuers[0].kid || !issuers[i].caCert.Equal(issuers[0].caCert) ||
			!issuers[i].serverCert.Leaf.Equal(issuers[0].serverCert.Leaf) {
			t.Errorf("Open %d disagrees with Open 0 on the state", i)
		}
	}
	// What is on disk is what they all loaded.
	reopened, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if reopened.kid != issuers[0].kid || !reopened.caCert.Equal(issuers[0].caCert) {
		t.Error("state on disk differs from what the concurrent Opens loaded")
	}
}

func TestOpenRecreatesIncompleteState(t *testing.T) {
	otherKey, err := newKey()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		// damage simulates an interrupted write or a deleted file.
		damage                             func(t *testing.T, dir string)
		wantNewKID, wantNewCA, wantNewCert bool
	}{
		{
			name:   "server certificate missing",
			damage: remove(serverCertFileName), wantNewCert: true,
		},
		{
			name:   "server key missing",
			damage: remove(serverKeyFileName), wantNewCert: true,
		},
		{
			name: "server key does not match the certificate",
			damage: func(t *testing.T, dir string) {
				if err := writeKey(filepath.Join(dir, serverKeyFileName), otherKey); err != nil {
					t.Fatal(err)
				}
			},
			wantNewCert: true,
		},
		{
			name:   "CA key missing",
			damage: remove(caKeyFileName), wantNewCA: true, wantNewCert: true,
		},
		{
			name:   "CA certificate missing",
			damage: remove(caCertFileName), wantNewCA: true, wantNewCert: true,
		},
		{
			name:   "signing key missing",
			damage: remove(signingKeyFileName), wantNewKID: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, dir := openTemp(t)
			tt.damage(t, dir)
			after, err := Open(dir)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if got := after.kid != before.kid; got != tt.wantNewKID {
				t.Errorf("new kid: %v, want %v", got, tt.wantNewKID)
			}
			if got := !after.caCert.Equal(before.caCert); got != tt.wantNewCA {
				t.Errorf("new CA: %v, want %v", got, tt.wantNewCA)
			}
			if got := !after.serverCert.Leaf.Equal(before.serverCert.Leaf); got != tt.wantNewCert {
				t.Errorf("new server certificate: %v, want %v", got, tt.wantNewCert)
			}
			if err := verifyServerCert(after.caCert, after.serverCert.Leaf, time.Now()); err != nil {
				t.Errorf("recreated state is inconsistent: %v", err)
			}
			// What Open returned is what is on disk.
			again, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			if again.kid != after.kid || !again.caCert.Equal(after.caCert) || !again.serverCert.Leaf.Equal(after.serverCert.Leaf) {
				t.Error("reopening after repair changed the state")
			}
		})
	}
}

func remove(name string) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenRecreatesExpiredCertificates(t *testing.T) {
	before, dir := openTemp(t)
	later := time.Now().Add(certValidity + 24*time.Hour)
	after, err := loadOrCreate(dir, later)
	if err != nil {
		t.Fatal(err)
	}
	if after.caCert.Equal(before.caCert) || after.serverCert.Leaf.Equal(before.serverCert.Leaf) {
		t.Error("expired certificates kept")
	}
	if after.kid != before.kid {
		t.Error("signing key replaced along with the certificates")
	}
	if err := verifyServerCert(after.caCert, after.serverCert.Leaf, later); err != nil {
		t.Error(err)
	}
}

func TestOpenRefusesCorruptFiles(t *testing.T) {
	for _, f := range stateFiles {
		t.Run(f.name, func(t *testing.T) {
			_, dir := openTemp(t)
			path := filepath.Join(dir, f.name)
			garbage := []byte("not PEM\n")
			if err := os.WriteFile(path, garbage, f.mode); err != nil {
				t.Fatal(err)
			}
			if _, err := Open(dir); err == nil {
				t.Fatal("Open succeeded on a corrupt file")
			}
			if b, _ := os.ReadFile(path); !bytes.Equal(b, garbage) {
				t.Error("corrupt file overwritten")
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"", file, filepath.Join(file, "sub")} {
		t.Run(dir, func(t *testing.T) {
			if _, err := Open(dir); err == nil {
				t.Errorf("Open(%q) succeeded", dir)
			}
		})
	}
}

func TestCACertificate(t *testing.T) {
	iss, _ := openTemp(t)
	ca, err := readCert(iss.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	pub, ok := ca.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve.Params().Name != "P-256" {
		t.Errorf("CA key is %T, want a P-256 ECDSA key", ca.PublicKey)
	}
	if validity := ca.NotAfter.Sub(ca.NotBefore); validity < certValidity || validity > certValidity+2*backdate {
		t.Errorf("CA validity %s, want about 10 years", validity)
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"common name", ca.Subject.CommonName == "wsapi local dev CA"},
		{"self-signed", ca.CheckSignatureFrom(ca) == nil},
		{"CA:true", ca.BasicConstraintsValid && ca.IsCA},
		{"no intermediates", ca.MaxPathLen == 0 && ca.MaxPathLenZero},
		{"signs certificates", ca.KeyUsage&x509.KeyUsageCertSign != 0},
		{"valid now", validAt(ca, time.Now())},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("CA certificate: %s: no", c.name)
		}
	}
}

func TestCAVerifiesServerCertificate(t *testing.T) {
	iss, dir := openTemp(t)
	roots := x509.NewCertPool()
	pemBytes, err := os.ReadFile(iss.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	if !roots.AppendCertsFromPEM(pemBytes) {
		t.Fatal("ca.pem holds no certificate")
	}
	server, err := readCert(filepath.Join(dir, serverCertFileName))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		wantOK bool
	}{
		{"127.0.0.1", true},
		{"::1", true},
		{"localhost", true},
		{"example.com", false},
		{"127.0.0.2", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := server.Verify(x509.VerifyOptions{
				DNSName:   tt.name,
				Roots:     roots,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			})
			if (err == nil) != tt.wantOK {
				t.Errorf("Verify for %s: %v, want ok %v", tt.name, err, tt.wantOK)
			}
		})
	}
}
