package authn

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/gatehousehq/gatehouse/internal/principal"
)

// APIKey is a configured key: its SHA-256 digest and the principal it stands for.
type APIKey struct {
	Digest  [sha256.Size]byte
	Subject string
	Roles   []string
	Claims  map[string]string
}

// APIKeys verifies static keys by comparing the presented key's SHA-256
// digest with every configured digest in constant time.
type APIKeys struct {
	keys []APIKey
	// principals[i] is who keys[i] stands for, made once: the Chain hands
	// each request its own copy.
	principals []*principal.Principal
}

var _ TokenVerifier = (*APIKeys)(nil)

// NewAPIKeys returns a verifier over keys.
func NewAPIKeys(keys []APIKey) *APIKeys {
	a := &APIKeys{keys: slices.Clone(keys), principals: make([]*principal.Principal, len(keys))}
	for i, k := range a.keys {
		claims := make(map[string]any, len(k.Claims))
		for name, v := range k.Claims {
			claims[name] = v
		}
		a.principals[i] = &principal.Principal{
			Subject: k.Subject,
			Roles:   slices.Clone(k.Roles),
			Claims:  claims,
			Method:  principal.MethodAPIKey,
		}
	}
	return a
}

// ParseDigest decodes a 64-character hex SHA-256 digest.
func ParseDigest(s string) ([sha256.Size]byte, error) {
	var d [sha256.Size]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != sha256.Size {
		return d, fmt.Errorf("parse key digest: want 64 hex characters")
	}
	copy(d[:], b)
	return d, nil
}

// VerifyToken implements TokenVerifier. Every configured digest is compared,
// whether or not an earlier one matched, so timing says nothing about which
// or how many keys exist. The principal is the key's own, shared by every
// request it authenticates: the caller must not change it (Chain copies it).
func (a *APIKeys) VerifyToken(_ context.Context, token string) (*principal.Principal, error) {
	d := sha256.Sum256([]byte(token))
	match := -1
	for i := range a.keys {
		if subtle.ConstantTimeCompare(d[:], a.keys[i].Digest[:]) == 1 {
			match = i
		}
	}
	if match < 0 {
		return nil, ErrNotMine
	}
	return a.principals[match], nil
}

// NewKey makes a random API key (256 bits, "gh_" + base64url) and its digest.
func NewKey() (key string, digestHex string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("make api key: %w", err)
	}
	key = "gh_" + base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(key))
	return key, hex.EncodeToString(sum[:]), nil
}
