package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/dlp"
)

// TestVault runs the token vault contract against stores from open, each
// of which must be fresh and empty.
func TestVault(t *testing.T, open func(t *testing.T) dlp.Vault) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	entry := func(owner, scope, tok string) dlp.Entry {
		return dlp.Entry{Owner: owner, Scope: scope, Token: tok, Sealed: []byte("sealed-" + tok), Expires: t0.Add(time.Hour)}
	}

	t.Run("OnlyItsOwnerAndScopeReadAToken", func(t *testing.T) {
		v := open(t)
		if err := v.PutToken(ctx, entry("alice", "ses_1", "⟦card:1⟧"), 10, t0); err != nil {
			t.Fatal(err)
		}
		got, err := v.Token(ctx, "alice", "ses_1", "⟦card:1⟧", t0)
		if err != nil || string(got) != "sealed-⟦card:1⟧" {
			t.Fatalf("Token = %q, %v", got, err)
		}
		for _, k := range [][3]string{{"mallory", "ses_1", "⟦card:1⟧"}, {"alice", "ses_2", "⟦card:1⟧"}, {"alice", "ses_1", "⟦card:2⟧"}} {
			if _, err := v.Token(ctx, k[0], k[1], k[2], t0); !errors.Is(err, dlp.ErrUnknownToken) {
				t.Errorf("Token%v err = %v, want ErrUnknownToken", k, err)
			}
		}
	})

	t.Run("AnExpiredTokenIsUnknownAndPutRenewsIt", func(t *testing.T) {
		v := open(t)
		if err := v.PutToken(ctx, entry("alice", "s", "⟦card:1⟧"), 10, t0); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Token(ctx, "alice", "s", "⟦card:1⟧", t0.Add(time.Hour)); !errors.Is(err, dlp.ErrUnknownToken) {
			t.Errorf("at expiry: err = %v", err)
		}
		renewed := entry("alice", "s", "⟦card:1⟧")
		renewed.Expires = t0.Add(3 * time.Hour)
		if err := v.PutToken(ctx, renewed, 10, t0.Add(30*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Token(ctx, "alice", "s", "⟦card:1⟧", t0.Add(2*time.Hour)); err != nil {
			t.Errorf("renewed: err = %v", err)
		}
	})

	t.Run("AScopeIsBoundedUnderConcurrency", func(t *testing.T) {
		v := open(t)
		var wg sync.WaitGroup
		errs := make([]error, 12)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = v.PutToken(ctx, entry("alice", "s", fmt.Sprintf("⟦card:%d⟧", i)), 5, t0)
			}()
		}
		wg.Wait()
		ok, full := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, dlp.ErrVaultFull):
				full++
			default:
				t.Fatal(err)
			}
		}
		if ok != 5 || full != 7 {
			t.Errorf("%d stored, %d refused; want 5 and 7", ok, full)
		}
		// A token already stored is renewed in a full scope; another scope is not full.
		for i := range errs {
			if errs[i] == nil {
				if err := v.PutToken(ctx, entry("alice", "s", fmt.Sprintf("⟦card:%d⟧", i)), 5, t0); err != nil {
					t.Errorf("renewing in a full scope: %v", err)
				}
				break
			}
		}
		if err := v.PutToken(ctx, entry("alice", "s2", "⟦card:x⟧"), 5, t0); err != nil {
			t.Errorf("another scope: %v", err)
		}
	})
}
