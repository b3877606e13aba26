package jwtauth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

const (
	minRSABits = 2048
	maxKeys    = 100
)

// privateMembers are JWK members that only private or symmetric keys carry.
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// publicKey is one verification key from an issuer's key set.
type publicKey struct {
	kid   string
	alg   string // the key's own "alg", if it names one
	raw   any    // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
	thumb string // RFC 7638 thumbprint, to recognise the same key across fetches
}

// keySnapshot is an immutable view of an issuer's usable keys.
type keySnapshot struct {
	byKid map[string]*publicKey
	all   []*publicKey
}

func (s *keySnapshot) has(k *publicKey) bool {
	return s != nil && slices.Contains(s.all, k)
}

// parseJWKS turns a JWKS document into usable verification keys. A set that
// carries private or symmetric key material is refused whole: it means the
// URL points at the wrong thing, and no key in it can be trusted. Single keys
// that are unusable (encryption keys, RSA under 2048 bits, unknown types,
// duplicate "kid"s) are dropped. Keys equal to ones in prev keep their
// identity, so cached tokens stay valid across refetches.
func parseJWKS(body []byte, prev *keySnapshot) (*keySnapshot, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("decode jwks: %w", err)
	}
	if len(doc.Keys) > maxKeys {
		return nil, fmt.Errorf("decode jwks: more than %d keys", maxKeys)
	}
	var keys []*publicKey
	kids := map[string]int{}
	for _, rawKey := range doc.Keys {
		var members map[string]json.RawMessage
		if err := json.Unmarshal(rawKey, &members); err != nil {
			return nil, fmt.Errorf("decode jwks: %w", err)
		}
		for _, m := range privateMembers {
			if _, ok := members[m]; ok {
				return nil, errors.New("decode jwks: key set contains private or symmetric key material")
			}
		}
		k, ok := usableKey(rawKey)
		if !ok {
			continue
		}
		kids[k.kid]++
		keys = append(keys, k)
	}
	snap := &keySnapshot{byKid: map[string]*publicKey{}}
	for _, k := range keys {
		if k.kid != "" && kids[k.kid] > 1 {
			continue // ambiguous: no token can say which one it means
		}
		if prev != nil {
			if old := prev.byKid[k.kid]; old != nil && old.thumb == k.thumb && old.alg == k.alg {
				k = old
			}
		}
		snap.all = append(snap.all, k)
		if k.kid != "" {
			snap.byKid[k.kid] = k
		}
	}
	if len(snap.all) == 0 {
		return nil, errors.New("decode jwks: no usable signing keys")
	}
	return snap, nil
}

// usableKey parses one public JWK and reports whether it can verify
// signatures under this package's rules.
func usableKey(rawKey []byte) (*publicKey, bool) {
	key, err := jwk.ParseKey(rawKey)
	if err != nil {
		return nil, false
	}
	if use, ok := key.KeyUsage(); ok && use != "sig" {
		return nil, false
	}
	if ops, ok := key.KeyOps(); ok && !slices.Contains(ops, jwk.KeyOpVerify) {
		return nil, false
	}
	if priv, err := jwk.IsPrivateKey(key); err != nil || priv {
		return nil, false
	}
	var raw any
	if err := jwk.Export(key, &raw); err != nil {
		return nil, false
	}
	switch pub := raw.(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < minRSABits {
			return nil, false
		}
	case *ecdsa.PublicKey:
	case ed25519.PublicKey:
	default:
		return nil, false
	}
	thumb, err := key.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, false
	}
	k := &publicKey{raw: raw, thumb: string(thumb)}
	k.kid, _ = key.KeyID()
	if alg, ok := key.Algorithm(); ok {
		if _, known := algorithms[alg.String()]; !known {
			return nil, false
		}
		k.alg = alg.String()
	}
	return k, true
}
