package authn

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkAPIKeysVerify is the API key check of every request: one SHA-256
// and a constant-time compare against every configured digest.
func BenchmarkAPIKeysVerify(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			var keys []APIKey
			var last string
			for i := range n {
				k, h, err := NewKey()
				if err != nil {
					b.Fatal(err)
				}
				d, err := ParseDigest(h)
				if err != nil {
					b.Fatal(err)
				}
				keys = append(keys, APIKey{Digest: d, Subject: fmt.Sprintf("user-%d", i), Roles: []string{"customer"}, Claims: map[string]string{"customer_id": "C-100"}})
				last = k
			}
			v := NewAPIKeys(keys)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.VerifyToken(ctx, last); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
