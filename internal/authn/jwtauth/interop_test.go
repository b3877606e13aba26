package jwtauth

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/authn"
	"github.com/gatehousehq/gatehouse/internal/oidctest"
)

func TestInterop_OIDCProviderDiscoveryAndRotation(t *testing.T) {
	p := oidctest.Start(t)
	const minRefresh = 300 * time.Millisecond
	verifier := func(clock *fakeClock, maxKeyAge time.Duration) *Verifier {
		return newVerifier(t, clock.use(Config{Issuers: []IssuerConfig{{
			Issuer:             p.Issuer,
			Audiences:          []string{"gatehouse"},
			Algorithms:         []string{"RS256"},
			RequiredTyp:        "at+jwt",
			MinRefreshInterval: minRefresh,
			MaxKeyAge:          maxKeyAge,
		}}}))
	}
	// v refreshes only for an unknown kid, so the fetches it makes are
	// counted exactly; aging tests the drop below. Each has its own clock.
	clock, agingClock := newFakeClock(), newFakeClock()
	v, aging := verifier(clock, time.Hour), verifier(agingClock, time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	oldTok := p.Token(t)
	pr, err := v.VerifyToken(ctx, oldTok)
	if err != nil {
		t.Fatalf("token found by discovery: %v", err)
	}
	if pr.Subject != "gatehouse-test" || pr.Issuer != p.Issuer || !pr.HasRole("agent") {
		t.Errorf("principal = %+v", pr)
	}

	// Rotation: the provider signs with a new key and publishes both.
	rotated := p.Rotate(t)
	newTok := p.Token(t)
	clock.advance(minRefresh)
	before := p.Stats(t).JWKSFetches
	if _, err := v.VerifyToken(ctx, newTok); err != nil {
		t.Fatalf("token of the new key %s: %v", rotated.Kid, err)
	}
	if got := p.Stats(t).JWKSFetches - before; got != 1 {
		t.Errorf("JWKS fetches to accept the new key = %d, want 1", got)
	}
	if _, err := v.VerifyToken(ctx, oldTok); err != nil {
		t.Fatalf("old key still published, token refused: %v", err)
	}

	// The old key leaves the JWKS: once the verifier refreshes (its keys
	// older than MaxKeyAge), its tokens fail.
	if _, err := aging.VerifyToken(ctx, oldTok); err != nil {
		t.Fatalf("old key still published, token refused: %v", err)
	}
	p.DropOld(t)
	agingClock.waitForSleepers(t, 1)
	agingClock.advance(time.Second)
	agingClock.waitForSleepers(t, 1) // the refresh at MaxKeyAge is over
	if _, err := aging.VerifyToken(ctx, oldTok); !errors.Is(err, authn.ErrInvalidCredentials) {
		t.Fatalf("token of a dropped key after the refresh: %v, want ErrInvalidCredentials", err)
	}
	if _, err := aging.VerifyToken(ctx, p.Token(t)); err != nil {
		t.Fatalf("fresh token after drop: %v", err)
	}
}
