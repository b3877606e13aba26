// Package callcred makes the credential a tool call carries instead of
// the caller's own token: a call token Gatehouse signs for that one call
// (bound to its caller, actor chain, tool, run and exact arguments), or a
// token exchanged for the caller's at the identity provider (RFC 8693).
// The caller's token itself never reaches a tool.
package callcred

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// Key is one call-token signing key.
type Key struct {
	kid  string
	alg  jwa.SignatureAlgorithm
	priv jwk.Key
	pub  jwk.Key
}

// LogValue keeps the key out of logs.
func (k *Key) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// KeyID is the key's kid: its RFC 7638 thumbprint, so the same public key
// always has the same kid.
func (k *Key) KeyID() string { return k.kid }

// Algorithm is ES256 for a P-256 key, EdDSA for an Ed25519 key.
func (k *Key) Algorithm() string { return k.alg.String() }

// Keys are the keys of a key file: the first signs, the others (the keys
// it replaced) are only published, so tokens they signed verify until
// they expire.
type Keys []*Key

// LoadKeys reads a PEM file of PKCS #8 private keys (P-256 or Ed25519),
// the current key first.
func LoadKeys(path string) (Keys, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read call token keys: %w", err)
	}
	keys, err := ParseKeys(b)
	if err != nil {
		return nil, fmt.Errorf("call token keys %s: %w", path, err)
	}
	return keys, nil
}

// ParseKeys parses PEM blocks of PKCS #8 private keys.
func ParseKeys(b []byte) (Keys, error) {
	var keys Keys
	seen := map[string]bool{}
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "PRIVATE KEY" {
			return nil, fmt.Errorf("PEM block %q: want PRIVATE KEY (PKCS #8)", block.Type)
		}
		raw, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("a PRIVATE KEY block is not PKCS #8")
		}
		k, err := newKey(raw)
		if err != nil {
			return nil, err
		}
		if !seen[k.kid] {
			seen[k.kid] = true
			keys = append(keys, k)
		}
	}
	if len(bytes.TrimSpace(b)) > 0 || len(keys) == 0 {
		return nil, errors.New("want one or more PEM PRIVATE KEY blocks and nothing else")
	}
	return keys, nil
}

func newKey(raw any) (*Key, error) {
	var alg jwa.SignatureAlgorithm
	switch k := raw.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, errors.New("an ECDSA key must be on P-256 (ES256)")
		}
		alg = jwa.ES256()
	case ed25519.PrivateKey:
		alg = jwa.EdDSA()
	default:
		return nil, fmt.Errorf("a %T key cannot sign call tokens (P-256 or Ed25519)", raw)
	}
	priv, err := jwk.Import(raw)
	if err != nil {
		return nil, fmt.Errorf("import key: %w", err)
	}
	pub, err := priv.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("derive public key: %w", err)
	}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("key thumbprint: %w", err)
	}
	kid := base64.RawURLEncoding.EncodeToString(tp)
	for _, k := range []jwk.Key{priv, pub} {
		if err := k.Set(jwk.KeyIDKey, kid); err != nil {
			return nil, err
		}
		if err := k.Set(jwk.AlgorithmKey, alg); err != nil {
			return nil, err
		}
	}
	_ = pub.Set(jwk.KeyUsageKey, "sig")
	return &Key{kid: kid, alg: alg, priv: priv, pub: pub}, nil
}

// JWKS is the public key set of ks, current key first.
func (ks Keys) JWKS() ([]byte, error) {
	set := jwk.NewSet()
	for _, k := range ks {
		if err := set.AddKey(k.pub); err != nil {
			return nil, fmt.Errorf("build jwks: %w", err)
		}
	}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("encode jwks: %w", err)
	}
	return b, nil
}

// NewKeyPEM makes a new P-256 key as a PKCS #8 PEM block.
func NewKeyPEM() ([]byte, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// Rotate puts a new key first in the key file at path and keeps the one
// it replaces after it (published, no longer signing); older keys are
// dropped. A missing file is created with one key. The file is mode 0600.
func Rotate(path string) error {
	fresh, err := NewKeyPEM()
	if err != nil {
		return err
	}
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read call token keys: %w", err)
	}
	if block, _ := pem.Decode(old); block != nil {
		fresh = append(fresh, pem.EncodeToMemory(block)...)
	}
	if _, err := ParseKeys(fresh); err != nil {
		return fmt.Errorf("call token keys %s: %w", path, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, fresh, 0o600); err != nil {
		return fmt.Errorf("write call token keys: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write call token keys: %w", err)
	}
	return nil
}
