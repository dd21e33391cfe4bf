package auth

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// LoadOrCreateKey reads the Ed25519 private key (PEM, PKCS#8) at path, or
// creates one there with mode 0600 when the file does not exist. Replicas
// sharing the file may start together: the key is written beside it and
// linked into place, so one creation wins and the others read its key.
func LoadOrCreateKey(path string) (key ed25519.PrivateKey, created bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key, created, err = createKey(path)
		if err != nil || created {
			return key, created, err
		}
		data, err = os.ReadFile(path) // another process created it first
	}
	if err != nil {
		return nil, false, fmt.Errorf("auth: read key %s: %w", path, err)
	}
	priv, err := parsePrivateKey(data)
	if err != nil {
		return nil, false, fmt.Errorf("auth: key %s: %w", path, err)
	}
	return priv, false, nil
}

// createKey writes a new key to a temporary file and links it to path:
// created is false when path appeared meanwhile (the caller reads that one).
func createKey(path string) (ed25519.PrivateKey, bool, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, false, fmt.Errorf("auth: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, false, fmt.Errorf("auth: encode key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("auth: create key directory: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".new-*")
	if err != nil {
		return nil, false, fmt.Errorf("auth: create key %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	err = pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, false, fmt.Errorf("auth: write key %s: %w", path, err)
	}
	// CreateTemp made the file 0600; a hard link never replaces an
	// existing path, so the first process to get here wins.
	if err := os.Link(tmp, path); errors.Is(err, os.ErrExist) {
		return nil, false, nil
	} else if err != nil {
		return nil, false, fmt.Errorf("auth: create key %s: %w", path, err)
	}
	return priv, true, nil
}

func parsePrivateKey(data []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("not a PEM \"PRIVATE KEY\" block (PKCS#8)")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("the key is %T, not Ed25519", k)
	}
	return priv, nil
}

// LoadPublicKey reads an older key kept for verification during a key
// rotation: either its private key (PKCS#8) or its public key (PKIX).
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth: read previous key %s: %w", path, err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("auth: previous key %s: not PEM", path)
	}
	var k crypto.PublicKey
	switch block.Type {
	case "PRIVATE KEY":
		priv, err := parsePrivateKey(data)
		if err != nil {
			return nil, fmt.Errorf("auth: previous key %s: %w", path, err)
		}
		return priv.Public().(ed25519.PublicKey), nil
	case "PUBLIC KEY":
		k, err = x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("auth: previous key %s: %w", path, err)
		}
	default:
		return nil, fmt.Errorf("auth: previous key %s: unexpected PEM block %q", path, block.Type)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("auth: previous key %s is %T, not Ed25519", path, k)
	}
	return pub, nil
}
