package jwtauth

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/gatehousehq/gatehouse/internal/authn"
	"github.com/gatehousehq/gatehouse/internal/oidctest"
)

// TestVerifyToken_RefusesHostileTokens checks tokens forged by an
// independent JOSE implementation (test/interop/forge.mjs, npm `jose`):
// every one must be refused as invalid credentials, and none may make the
// verifier contact a URL named in the token.
func TestVerifyToken_RefusesHostileTokens(t *testing.T) {
	rsaA, ecA, rsaB := newTestKey(t, "RS256", "rsa-a"), newTestKey(t, "ES256", "ec-a"), newTestKey(t, "RS256", "rsa-b")
	srvA, srvB := newKeyServer(t, rsaA, ecA), newKeyServer(t, rsaB)

	var canaryConns atomic.Int64
	canary := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	canary.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			canaryConns.Add(1)
		}
	}
	canary.Start()
	defer canary.Close()

	var rawPub any
	if err := jwk.Export(rsaA.pub, &rawPub); err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(rawPub)
	if err != nil {
		t.Fatal(err)
	}
	input, err := json.Marshal(map[string]any{
		"issuerA": srvA.URL, "issuerB": srvB.URL, "audience": testAudience,
		"now": time.Now().Unix(), "canary": canary.URL,
		"rsaA": rsaA.priv, "ecA": ecA.priv, "rsaB": rsaB.priv,
		"rsaAPublicPEM": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
	})
	if err != nil {
		t.Fatal(err)
	}
	var tokens map[string]string
	if err := json.Unmarshal(oidctest.Run(t, "forge.mjs", input), &tokens); err != nil {
		t.Fatal(err)
	}

	v := newVerifier(t, Config{Issuers: []IssuerConfig{issuerConfig(srvA.URL), issuerConfig(srvB.URL)}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := v.VerifyToken(ctx, tokens["valid"])
	if err != nil {
		t.Fatalf("the control token was refused, so the suite proves nothing: %v", err)
	}
	if p.Subject != "alice" {
		t.Fatalf("control token subject = %q", p.Subject)
	}

	want := []string{
		"alg_none_jose", "alg_none_empty_sig", "alg_None_empty_sig", "alg_NONE_empty_sig", "alg_nOnE_empty_sig",
		"alg_none_with_sig", "alg_missing", "hs256_public_key_secret", "hs256_public_key_secret_no_kid",
		"hs512_public_key_secret", "es256_header_rsa_kid", "rs256_header_ec_kid", "ps256_header_ec_kid",
		"es256_header_rsa_sig", "aud_missing", "aud_wrong", "aud_array_wrong", "aud_number", "iss_unknown",
		"iss_missing", "iss_b_signed_by_a", "iss_a_signed_by_b", "iss_a_signed_by_b_with_a_kid", "expired",
		"exp_missing", "exp_string", "nbf_future", "iat_future", "tampered_payload", "tampered_signature",
		"signed_by_attacker_with_a_kid", "truncated_two_segments", "truncated_one_segment", "extra_segment",
		"five_segments_jwe_like", "payload_not_object", "header_not_json", "oversized", "crit_unknown",
		"jku_canary", "jku_canary_trusted_kid", "x5u_canary", "embedded_jwk", "embedded_jwk_with_a_kid",
		"x5c_bogus", "kid_path_traversal", "kid_nul", "kid_10k", "kid_sql", "ecdsa_zero_sig", "ecdsa_zero_sig_short",
	}
	for _, name := range want {
		if _, ok := tokens[name]; !ok {
			t.Errorf("forge.mjs made no %q token", name)
		}
	}
	names := make([]string, 0, len(tokens))
	for name := range tokens {
		if name != "valid" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	if len(names) < 30 {
		t.Fatalf("only %d hostile cases", len(names))
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			p, err := v.VerifyToken(ctx, tokens[name])
			if !errors.Is(err, authn.ErrInvalidCredentials) {
				t.Errorf("err = %v (principal %v), want ErrInvalidCredentials", err, p)
			}
			t.Logf("refused: %v", err)
		})
	}
	if n := canaryConns.Load(); n != 0 {
		t.Errorf("the canary listener got %d connections; token URLs must never be followed", n)
	}
}
