// Package devkey is the dev JWT issuer of `gatehouse serve --dev` and
// `gatehouse token`: one ES256 signing key kept in the data dir, tokens
// minted with it, and its public JWKS for /.well-known/jwks.json. It is for
// development and tests; production tokens come from a real identity provider.
package devkey

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// The dev issuer's identity, to be trusted as a jwtauth issuer with
// Issuer, Audiences [Audience], Algorithms [Algorithm] and the PublicJWKS.
const (
	Issuer    = "gatehouse-dev"
	Audience  = "gatehouse"
	Algorithm = "ES256"
	// FileName is the key file in the data dir (a private JWK, mode 0600).
	FileName = "dev-jwt-key.json"
	// MaxTTL caps a minted token's lifetime.
	MaxTTL = 30 * 24 * time.Hour
)

// reserved claims are set by Mint and cannot be overridden by extra claims.
var reserved = map[string]bool{"iss": true, "sub": true, "aud": true, "exp": true, "nbf": true, "iat": true, "jti": true, "roles": true}

// Key is the dev issuer's signing key.
type Key struct {
	priv jwk.Key
	kid  string
	// Now is the clock for minted tokens; tests may replace it.
	Now func() time.Time
}

// LogValue keeps the key out of logs.
func (k *Key) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// LoadOrCreate loads the key from dataDir/FileName, creating the directory
// and a new key on first use. A key file readable by group or others is
// refused: anyone who can read it can mint tokens the dev server accepts.
func LoadOrCreate(dataDir string) (*Key, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	path := filepath.Join(dataDir, FileName)
	k, err := load(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	if err := create(path); err != nil {
		return nil, err
	}
	return load(path)
}

// Load loads the key from dataDir/FileName and never creates one: a new key
// would sign tokens that no running server accepts.
func Load(dataDir string) (*Key, error) {
	k, err := load(filepath.Join(dataDir, FileName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no dev issuer key in %s (start `gatehouse serve --dev` there first, or give --data-dir): %w", dataDir, err)
	}
	return k, err
}

func load(path string) (*Key, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read dev key: %w", err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("read dev key: %s is accessible by others (mode %o); chmod 600 it", path, info.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read dev key: %w", err)
	}
	priv, err := jwk.ParseKey(data)
	if err != nil {
		return nil, fmt.Errorf("parse dev key %s: %w", path, err)
	}
	var raw ecdsa.PrivateKey
	if err := jwk.Export(priv, &raw); err != nil || raw.Curve != elliptic.P256() {
		return nil, fmt.Errorf("parse dev key %s: not an ES256 private key", path)
	}
	kid, ok := priv.KeyID()
	if !ok || kid == "" {
		return nil, fmt.Errorf("parse dev key %s: no kid", path)
	}
	return &Key{priv: priv, kid: kid, Now: time.Now}, nil
}

// create writes a new key without ever replacing an existing file: the key
// goes to a temporary file that is then hard-linked into place, so two
// processes starting at once end up sharing one key.
func create(path string) error {
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate dev key: %w", err)
	}
	priv, err := jwk.Import(raw)
	if err != nil {
		return fmt.Errorf("import dev key: %w", err)
	}
	thumb, err := priv.Thumbprint(crypto.SHA256)
	if err != nil {
		return fmt.Errorf("import dev key: %w", err)
	}
	for name, v := range map[string]any{jwk.KeyIDKey: base64.RawURLEncoding.EncodeToString(thumb), jwk.AlgorithmKey: jwa.ES256(), jwk.KeyUsageKey: "sig"} {
		if err := priv.Set(name, v); err != nil {
			return fmt.Errorf("import dev key: %w", err)
		}
	}
	data, err := json.MarshalIndent(priv, "", "  ")
	if err != nil {
		return fmt.Errorf("encode dev key: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".dev-jwt-key-*")
	if err != nil {
		return fmt.Errorf("write dev key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write dev key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write dev key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("write dev key: %w", err)
	}
	return nil
}

// KeyID is the key's "kid" (its RFC 7638 thumbprint).
func (k *Key) KeyID() string { return k.kid }

// Mint signs a token for subject with roles, valid for ttl (at most MaxTTL),
// carrying extra string claims (for tool conditions, e.g. customer_id).
// Extra claims may not override the registered claims or roles.
func (k *Key) Mint(subject string, roles []string, ttl time.Duration, claims map[string]string) (string, error) {
	if subject == "" {
		return "", errors.New("mint token: empty subject")
	}
	if ttl <= 0 || ttl > MaxTTL {
		return "", fmt.Errorf("mint token: ttl must be between 0 and %s", MaxTTL)
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", fmt.Errorf("mint token: %w", err)
	}
	now := k.Now().Truncate(time.Second)
	b := jwt.NewBuilder().
		Issuer(Issuer).Audience([]string{Audience}).Subject(subject).
		IssuedAt(now).NotBefore(now).Expiration(now.Add(ttl)).
		JwtID(hex.EncodeToString(jti)).
		Claim("roles", append([]string{}, roles...))
	for name, v := range claims {
		if reserved[name] {
			return "", fmt.Errorf("mint token: claim %q is reserved", name)
		}
		b = b.Claim(name, v)
	}
	tok, err := b.Build()
	if err != nil {
		return "", fmt.Errorf("mint token: %w", err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256(), k.priv))
	if err != nil {
		return "", fmt.Errorf("mint token: %w", err)
	}
	return string(signed), nil
}

// PublicJWKS returns the JWKS document holding the public key only.
func (k *Key) PublicJWKS() ([]byte, error) {
	pub, err := k.priv.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("derive public key: %w", err)
	}
	set := jwk.NewSet()
	if err := set.AddKey(pub); err != nil {
		return nil, fmt.Errorf("build jwks: %w", err)
	}
	out, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("encode jwks: %w", err)
	}
	return out, nil
}
