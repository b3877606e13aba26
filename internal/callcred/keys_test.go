package callcred

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/gatehousehq/gatehouse/internal/principal"
	"github.com/gatehousehq/gatehouse/internal/tools"
)

func pemOf(t *testing.T, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func TestParseKeys_AlgorithmFromTheKeyAndKidFromItsThumbprint(t *testing.T) {
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keys, err := ParseKeys(append(pemOf(t, ed), pemOf(t, p256)...))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].Algorithm() != "EdDSA" || keys[1].Algorithm() != "ES256" {
		t.Fatalf("keys = %v", keys)
	}
	again, _ := ParseKeys(pemOf(t, ed))
	if again[0].KeyID() != keys[0].KeyID() {
		t.Error("the same key got another kid")
	}
	s, err := NewSigner(SignerConfig{Issuer: "https://gh.test", Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	chain := []principal.Actor{{Subject: "support-bot"}, {ClientID: "platform"}}
	tok, err := s.Sign(&principal.Principal{Subject: "alice", Actor: chain}, tools.Call{ID: "r/c", RunID: "r", Tool: "t", Actor: "agent:a", ArgsSHA256: strings.Repeat("0", 64)}, "aud")
	if err != nil {
		t.Fatal(err)
	}
	set, _ := s.JWKS()
	ks, err := jwk.Parse(set)
	if err != nil || ks.Len() != 2 {
		t.Fatalf("jwks: %v %s", err, set)
	}
	pub, _ := ks.Key(0)
	if _, ok := pub.(jwk.OKPPublicKey); !ok {
		t.Errorf("first published key is %T, want the Ed25519 public key", pub)
	}
	payload, err := jws.Verify([]byte(tok), jws.WithKeySet(ks))
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	_ = json.Unmarshal(payload, &claims)
	act, _ := json.Marshal(claims["act"])
	if want := `{"act":{"act":{"client_id":"platform"},"sub":"support-bot"},"sub":"agent:a"}`; string(act) != want {
		t.Errorf("act = %s, want %s", act, want)
	}
}

func TestParseKeys_RefusesOtherKeys(t *testing.T) {
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ec256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sec1, _ := x509.MarshalECPrivateKey(ec256)
	for name, b := range map[string][]byte{
		"P-384":       pemOf(t, p384),
		"RSA":         pemOf(t, rsaKey),
		"SEC 1 block": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}),
		"empty":       nil,
		"trailing":    append(pemOf(t, ec256), "junk"...),
	} {
		if _, err := ParseKeys(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
