package jwtauth

import (
	"context"
	"testing"
	"time"
)

func BenchmarkVerify(b *testing.B) {
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		key := newTestKey(b, alg, "k1")
		ic := IssuerConfig{Issuer: "https://idp.test", Audiences: []string{testAudience}, JWKS: jwksOf(b, key), Algorithms: []string{alg}}
		tok := key.sign(b, claimsFor(ic.Issuer, time.Now()), nil)
		for _, mode := range []struct {
			name  string
			cache int
		}{{"uncached", -1}, {"cached", 0}} {
			b.Run(alg+"/"+mode.name, func(b *testing.B) {
				v := newVerifier(b, Config{Issuers: []IssuerConfig{ic}, CacheSize: mode.cache})
				ctx := context.Background()
				if _, err := v.VerifyToken(ctx, tok); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := v.VerifyToken(ctx, tok); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
