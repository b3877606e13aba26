package jwtauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/gatehousehq/gatehouse/internal/authn"
)

const testAudience = "gatehouse"

// testKey is a signing key pair of a test issuer.
type testKey struct {
	kid  string
	alg  jwa.SignatureAlgorithm
	priv jwk.Key
	pub  jwk.Key
}

func newTestKey(t testing.TB, alg, kid string) testKey {
	t.Helper()
	var raw any
	var err error
	switch alg {
	case "RS256", "PS256":
		raw, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		raw, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		raw, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "EdDSA":
		_, raw, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("no test key for %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return keyFromRaw(t, raw, alg, kid)
}

func keyFromRaw(t testing.TB, raw any, alg, kid string) testKey {
	t.Helper()
	priv, err := jwk.Import(raw)
	if err != nil {
		t.Fatal(err)
	}
	if kid != "" {
		if err := priv.Set(jwk.KeyIDKey, kid); err != nil {
			t.Fatal(err)
		}
	}
	pub, err := priv.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	a, ok := jwa.LookupSignatureAlgorithm(alg)
	if !ok {
		t.Fatalf("unknown alg %s", alg)
	}
	return testKey{kid: kid, alg: a, priv: priv, pub: pub}
}

// sign makes a compact JWS of claims with extra protected headers.
func (k testKey) sign(t testing.TB, claims map[string]any, extra map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	h := jws.NewHeaders()
	for name, v := range extra {
		if err := h.Set(name, v); err != nil {
			t.Fatal(err)
		}
	}
	out, err := jws.Sign(payload, jws.WithKey(k.alg, k.priv, jws.WithProtectedHeaders(h)))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func jwksOf(t testing.TB, keys ...testKey) []byte {
	t.Helper()
	set := jwk.NewSet()
	for _, k := range keys {
		if err := set.AddKey(k.pub); err != nil {
			t.Fatal(err)
		}
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// keyServer is an issuer on loopback serving OIDC discovery and a JWKS whose
// keys, availability and body tests can change, counting JWKS fetches.
type keyServer struct {
	*httptest.Server
	fetches atomic.Int64

	mu   sync.Mutex
	body []byte
	down bool
}

func newKeyServer(t testing.TB, keys ...testKey) *keyServer {
	t.Helper()
	ks := &keyServer{}
	ks.setKeys(t, keys...)
	ks.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": ks.URL, "jwks_uri": ks.URL + "/jwks"})
		case "/jwks":
			ks.fetches.Add(1)
			ks.mu.Lock()
			body, down := ks.body, ks.down
			ks.mu.Unlock()
			if down {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
			_, _ = w.Write(body)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(ks.Close)
	return ks
}

func (ks *keyServer) setKeys(t testing.TB, keys ...testKey) { ks.setBody(jwksOf(t, keys...)) }

func (ks *keyServer) setBody(b []byte) {
	ks.mu.Lock()
	ks.body = b
	ks.mu.Unlock()
}

func (ks *keyServer) setDown(down bool) {
	ks.mu.Lock()
	ks.down = down
	ks.mu.Unlock()
}

// claimsFor returns valid claims of issuer iss at time now.
func claimsFor(iss string, now time.Time) map[string]any {
	return map[string]any{
		"iss":   iss,
		"aud":   testAudience,
		"sub":   "alice",
		"iat":   now.Unix(),
		"nbf":   now.Unix(),
		"exp":   now.Add(time.Hour).Unix(),
		"roles": []string{"agent"},
		"scope": "read write",
	}
}

func issuerConfig(iss string) IssuerConfig {
	return IssuerConfig{
		Issuer:             iss,
		Audiences:          []string{testAudience},
		Algorithms:         []string{"RS256", "PS256", "ES256", "ES384", "EdDSA"},
		MinRefreshInterval: 200 * time.Millisecond,
	}
}

func newVerifier(t testing.TB, cfg Config) *Verifier {
	t.Helper()
	if cfg.FetchTimeout == 0 {
		cfg.FetchTimeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.Close() })
	return v
}

func verify(t testing.TB, v *Verifier, token string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := v.VerifyToken(ctx, token)
	return err
}

func mustBeInvalid(t testing.TB, err error) {
	t.Helper()
	if !errors.Is(err, authn.ErrInvalidCredentials) {
		t.Fatalf("err = %v, want ErrInvalidCredentials", err)
	}
}
