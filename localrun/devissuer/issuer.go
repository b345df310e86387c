package devissuer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
)

// File names inside the state directory.
const (
	signingKeyFileName = "signing-key.pem"
	caCertFileName     = "ca.pem"
	caKeyFileName      = "ca-key.pem"
	serverCertFileName = "server.pem"
	serverKeyFileName  = "server-key.pem"
	lockFileName       = ".lock"
)

const (
	// caName is the CA's common name, so it is recognisable wherever it
	// shows up (openssl output, TLS errors).
	caName = "wsapi local dev CA"
	// serverName is the server certificate's common name; clients match the
	// SANs, not this.
	serverName = "wsapi local dev issuer"
	// certValidity covers both certificates: long enough that nobody's dev
	// setup breaks on a certificate expiring.
	certValidity = 10 * 365 * 24 * time.Hour
	// backdate absorbs clock differences between the processes and tools
	// that check the certificates.
	backdate = time.Hour
)

// serverDNSNames and serverIPs are what the server certificate is valid for:
// loopback only.
var (
	serverDNSNames = []string{"localhost"}
	serverIPs      = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
)

// Issuer is a local OIDC issuer's state. It never changes after Open, so it
// is safe for concurrent use.
type Issuer struct {
	dir        string
	signingKey *ecdsa.PrivateKey
	kid        string
	jwks       []byte // the public key set, JSON encoded
	caCert     *x509.Certificate
	caKey      *ecdsa.PrivateKey
	serverCert tls.Certificate
	// extraCerts caches the in-memory certificates for loopback addresses
	// other than 127.0.0.1 and ::1 (see TLSConfig), by address.
	extraCerts sync.Map // netip.Addr → *tls.Certificate
}

// Open loads the issuer's state from dir, creating it on first use: an
// ES256 signing key (with a kid), a local CA (EC P-256, 10-year, CA:true,
// name "wsapi local dev CA"), and a server certificate for 127.0.0.1, ::1
// and localhost signed by it. Files are 0600 (keys) / 0644 (certs), written
// atomically (temp file + rename) so two processes (the dev server and
// `token` command) never see half a file.
//
// Open also takes a lock on dir while it reads or creates the state, so two
// processes opening a new dir at once agree on one CA and one signing key.
// A missing or mismatched certificate/key pair (what a crash between two
// writes leaves) is recreated, and so is an expired certificate; a corrupt
// file is an error, never overwritten.
func Open(dir string) (*Issuer, error) {
	if dir == "" {
		return nil, fmt.Errorf("open dev issuer: empty directory")
	}
	// 0700: the directory holds private keys.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open dev issuer: %w", err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, fmt.Errorf("open dev issuer %s: %w", dir, err)
	}
	defer unlock()

	iss, err := loadOrCreate(dir, time.Now())
	if err != nil {
		return nil, fmt.Errorf("open dev issuer %s: %w", dir, err)
	}
	return iss, nil
}

// loadOrCreate does Open's work with the lock held.
func loadOrCreate(dir string, now time.Time) (*Issuer, error) {
	path := func(name string) string { return filepath.Join(dir, name) }

	signingKey, err := readKey(path(signingKeyFileName))
	if errors.Is(err, fs.ErrNotExist) {
		signingKey, err = newKey()
		if err == nil {
			err = writeKey(path(signingKeyFileName), signingKey)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}

	caCert, caKey, ok, err := readKeyPair(path(caCertFileName), path(caKeyFileName))
	if err != nil {
		return nil, fmt.Errorf("CA: %w", err)
	}
	newCA := !ok || !validAt(caCert, now)
	if newCA {
		if caCert, caKey, err = createCA(now); err != nil {
			return nil, fmt.Errorf("CA: %w", err)
		}
		// Key first, then certificate: a crash in between leaves a
		// mismatched pair, which the next Open replaces.
		if err := writeKey(path(caKeyFileName), caKey); err != nil {
			return nil, fmt.Errorf("CA: %w", err)
		}
		if err := writeCert(path(caCertFileName), caCert); err != nil {
			return nil, fmt.Errorf("CA: %w", err)
		}
	}

	serverCert, serverKey, ok, err := readKeyPair(path(serverCertFileName), path(serverKeyFileName))
	if err != nil {
		return nil, fmt.Errorf("server certificate: %w", err)
	}
	if newCA || !ok || verifyServerCert(caCert, serverCert, now) != nil {
		if serverCert, serverKey, err = createServerCert(caCert, caKey, now); err != nil {
			return nil, fmt.Errorf("server certificate: %w", err)
		}
		if err := writeKey(path(serverKeyFileName), serverKey); err != nil {
			return nil, fmt.Errorf("server certificate: %w", err)
		}
		if err := writeCert(path(serverCertFileName), serverCert); err != nil {
			return nil, fmt.Errorf("server certificate: %w", err)
		}
	}

	kid, jwks, err := publicKeySet(signingKey)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	return &Issuer{
		dir:        dir,
		signingKey: signingKey,
		kid:        kid,
		jwks:       jwks,
		caCert:     caCert,
		caKey:      caKey,
		serverCert: tls.Certificate{
			Certificate: [][]byte{serverCert.Raw},
			PrivateKey:  serverKey,
			Leaf:        serverCert,
		},
	}, nil
}

// CAFile is the path of the CA certificate (ca.pem), for SSL_CERT_FILE.
func (i *Issuer) CAFile() string {
	return filepath.Join(i.dir, caCertFileName)
}

// TLSConfig returns a new server configuration with the issuer's
// certificate; callers may modify it. A client that reached the server on
// another loopback address (127.1.2.3, say: the local run listens on any of
// 127.0.0.0/8) gets a certificate for that address, signed by the same CA
// and kept in memory only, since the one on disk names 127.0.0.1, ::1 and
// localhost.
func (i *Issuer) TLSConfig() *tls.Config {
	cfg := &tls.Config{
		Certificates: []tls.Certificate{i.serverCert},
		// Every client is a current Go program or tool on this machine.
		MinVersion: tls.VersionTLS13,
	}
	// Not GetCertificate: crypto/tls calls it only for clients that send a
	// server name, and clients of an IP literal send none.
	base := cfg.Clone()
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		cert, err := i.certificateFor(hello)
		if cert == nil || err != nil {
			return nil, err
		}
		c := base.Clone()
		c.Certificates = []tls.Certificate{*cert}
		return c, nil
	}
	return cfg
}

// certificateFor returns the certificate for the loopback address the
// client connected to, when the one on disk does not name it; else nil.
func (i *Issuer) certificateFor(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if hello.Conn == nil {
		return nil, nil
	}
	ap, err := netip.ParseAddrPort(hello.Conn.LocalAddr().String())
	if err != nil {
		return nil, nil
	}
	addr := ap.Addr().Unmap().WithZone("")
	if !addr.IsLoopback() || slices.ContainsFunc(serverIPs, func(ip net.IP) bool { return ip.Equal(addr.AsSlice()) }) {
		return nil, nil
	}
	if c, ok := i.extraCerts.Load(addr); ok {
		return c.(*tls.Certificate), nil
	}
	cert, key, err := createServerCertFor(i.caCert, i.caKey, time.Now(), nil, []net.IP{addr.AsSlice()})
	if err != nil {
		return nil, fmt.Errorf("certificate for %s: %w", addr, err)
	}
	c, _ := i.extraCerts.LoadOrStore(addr, &tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert})
	return c.(*tls.Certificate), nil
}

func newKey() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate P-256 key: %w", err)
	}
	return k, nil
}

func createCA(now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: caName},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(certValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		// The CA signs leaf certificates only.
		MaxPathLen:     0,
		MaxPathLenZero: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("parse new CA certificate: %w", err)
	}
	return cert, key, nil
}

func createServerCert(ca *x509.Certificate, caKey *ecdsa.PrivateKey, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	return createServerCertFor(ca, caKey, now, serverDNSNames, serverIPs)
}

// createServerCertFor creates a server certificate for the given names.
func createServerCertFor(ca *x509.Certificate, caKey *ecdsa.PrivateKey, now time.Time, dnsNames []string, ips []net.IP) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: serverName},
		NotBefore:    now.Add(-backdate),
		// Not past the CA: a chain is only as valid as its shortest link.
		NotAfter:    minTime(now.Add(certValidity), ca.NotAfter),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    dnsNames,
		IPAddresses: ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("create server certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("parse new server certificate: %w", err)
	}
	return cert, key, nil
}

// newSerial returns a random 128-bit serial number, so certificates from
// recreated state never share a serial with old ones.
func newSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("generate serial number: %w", err)
	}
	return n, nil
}

func validAt(c *x509.Certificate, now time.Time) bool {
	return !now.Before(c.NotBefore) && !now.After(c.NotAfter)
}

// verifyServerCert checks that ca vouches for server for every name clients
// use, so a server certificate from an older CA or with other names is
// replaced.
func verifyServerCert(ca, server *x509.Certificate, now time.Time) error {
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	names := append([]string(nil), serverDNSNames...)
	for _, ip := range serverIPs {
		names = append(names, ip.String())
	}
	for _, name := range names {
		if _, err := server.Verify(x509.VerifyOptions{
			DNSName:     name,
			Roots:       roots,
			CurrentTime: now,
			KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}); err != nil {
			return fmt.Errorf("verify server certificate for %s: %w", name, err)
		}
	}
	return nil
}

// publicKeySet returns the signing key's key ID and the JSON Web Key Set
// that publishes its public half. The key ID is the RFC 7638 thumbprint, so
// it follows from the key and needs no file of its own.
func publicKeySet(k *ecdsa.PrivateKey) (kid string, jwks []byte, err error) {
	// A first pass without a kid, to compute the thumbprint from the
	// canonical coordinates.
	jwk, err := jwkset.NewJWKFromKey(&k.PublicKey, jwkset.JWKOptions{})
	if err != nil {
		return "", nil, fmt.Errorf("encode public key: %w", err)
	}
	m := jwk.Marshal()
	// RFC 7638 section 3.2: the required members in lexicographic order,
	// no white space. Base64url values need no JSON escaping.
	canonical := fmt.Sprintf(`{"crv":%q,"kty":%q,"x":%q,"y":%q}`, m.CRV, m.KTY, m.X, m.Y)
	sum := sha256.Sum256([]byte(canonical))
	kid = base64.RawURLEncoding.EncodeToString(sum[:])

	jwk, err = jwkset.NewJWKFromKey(&k.PublicKey, jwkset.JWKOptions{
		Metadata: jwkset.JWKMetadataOptions{ALG: jwkset.AlgES256, KID: kid, USE: jwkset.UseSig},
	})
	if err != nil {
		return "", nil, fmt.Errorf("encode public key: %w", err)
	}
	jwks, err = json.Marshal(jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{jwk.Marshal()}})
	if err != nil {
		return "", nil, fmt.Errorf("encode key set: %w", err)
	}
	return kid, jwks, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
