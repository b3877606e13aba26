package jwtauth

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"
)

func TestTokenCache_EntryNeverOutlivesExp(t *testing.T) {
	key := newTestKey(t, "ES256", "k1")
	now := time.Unix(1_800_000_000, 0)
	clock := now
	ic := IssuerConfig{Issuer: "https://idp.test", Audiences: []string{testAudience}, JWKS: jwksOf(t, key), Leeway: 30 * time.Second}
	v := newVerifier(t, Config{Issuers: []IssuerConfig{ic}, Now: func() time.Time { return clock }})
	claims := claimsFor(ic.Issuer, now)
	claims["exp"] = now.Add(10 * time.Second).Unix()
	tok := key.sign(t, claims, nil)
	if err := verify(t, v, tok); err != nil {
		t.Fatal(err)
	}
	if v.cache.len() != 1 {
		t.Fatalf("cache holds %d entries, want 1", v.cache.len())
	}
	clock = now.Add(10 * time.Second)
	// Past exp the cache must not answer; the full check (with leeway) decides.
	sum := sha256.Sum256([]byte(tok))
	if _, ok := v.cache.get(&sum, clock); ok {
		t.Error("cache answered at exp")
	}
	clock = now.Add(41 * time.Second)
	mustBeInvalid(t, verify(t, v, tok))
}

func TestTokenCache_IsBounded(t *testing.T) {
	key := newTestKey(t, "ES256", "k1")
	ic := IssuerConfig{Issuer: "https://idp.test", Audiences: []string{testAudience}, JWKS: jwksOf(t, key)}
	v := newVerifier(t, Config{Issuers: []IssuerConfig{ic}, CacheSize: 16})
	now := time.Now()
	for i := range 100 {
		claims := claimsFor(ic.Issuer, now)
		claims["sub"] = fmt.Sprint("user-", i)
		if _, err := v.VerifyToken(context.Background(), key.sign(t, claims, nil)); err != nil {
			t.Fatal(err)
		}
		if n := v.cache.len(); n > 16 {
			t.Fatalf("cache holds %d entries, bound is 16", n)
		}
	}
}

func TestTokenCache_HitReturnsSamePrincipal(t *testing.T) {
	key := newTestKey(t, "ES256", "k1")
	ic := IssuerConfig{Issuer: "https://idp.test", Audiences: []string{testAudience}, JWKS: jwksOf(t, key)}
	v := newVerifier(t, Config{Issuers: []IssuerConfig{ic}})
	tok := key.sign(t, claimsFor(ic.Issuer, time.Now()), nil)
	p1, err := v.VerifyToken(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := v.VerifyToken(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if p1 != p2 {
		t.Error("second verification did not come from the cache")
	}
}
