package devissuer

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// File modes: private keys are readable by the owner only; certificates are
// public.
const (
	keyFileMode  fs.FileMode = 0o600
	certFileMode fs.FileMode = 0o644
)

const (
	pemTypePrivateKey  = "PRIVATE KEY"
	pemTypeCertificate = "CERTIFICATE"
)

// writeFileAtomic writes data to a temporary file in path's directory and
// renames it over path, so a concurrent reader sees the old file or the new
// one, never a partial one.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	// Chmod, not the create mode, so the umask cannot change the result.
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("chmod %s: %w", tmp, err)
	}
	// Sync before rename: after a crash the name must not point at an
	// empty file.
	if err = f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s to %s: %w", tmp, path, err)
	}
	return nil
}

// readPEM reads the single PEM block of the given type in path. A missing
// file is reported as an error matching fs.ErrNotExist.
func readPEM(path, blockType string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	block, rest := pem.Decode(data)
	if block == nil || block.Type != blockType {
		return nil, fmt.Errorf("read %s: no %s PEM block", path, blockType)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("read %s: unexpected data after the %s PEM block", path, blockType)
	}
	return block.Bytes, nil
}

// readKey reads a PKCS #8 P-256 ECDSA private key.
func readKey(path string) (*ecdsa.PrivateKey, error) {
	der, err := readPEM(path, pemTypePrivateKey)
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok || ec.Curve.Params().Name != "P-256" {
		return nil, fmt.Errorf("parse %s: not a P-256 ECDSA key", path)
	}
	return ec, nil
}

func writeKey(path string, k *ecdsa.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return fmt.Errorf("marshal key for %s: %w", path, err)
	}
	return writeFileAtomic(path, pem.EncodeToMemory(&pem.Block{Type: pemTypePrivateKey, Bytes: der}), keyFileMode)
}

func readCert(path string) (*x509.Certificate, error) {
	der, err := readPEM(path, pemTypeCertificate)
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return c, nil
}

func writeCert(path string, c *x509.Certificate) error {
	return writeFileAtomic(path, pem.EncodeToMemory(&pem.Block{Type: pemTypeCertificate, Bytes: c.Raw}), certFileMode)
}

// readKeyPair reads a certificate and its key. ok is false, with a nil
// error, when either file is missing or the key does not belong to the
// certificate: both are what a crash between the two writes leaves, and the
// caller recreates the pair. Unreadable or corrupt files are errors, so
// Open never silently replaces something it does not understand.
func readKeyPair(certPath, keyPath string) (cert *x509.Certificate, key *ecdsa.PrivateKey, ok bool, err error) {
	key, err = readKey(keyPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, false, nil
	}
	if err != nil {
		return nil, nil, false, err
	}
	cert, err = readCert(certPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, false, nil
	}
	if err != nil {
		return nil, nil, false, err
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, nil, false, nil
	}
	return cert, key, true, nil
}
