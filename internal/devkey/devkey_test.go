package devkey

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehousehq/gatehouse/internal/authn/jwtauth"
)

func TestLoadOrCreate_KeepsOneKeyAcrossStarts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	k1, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file mode = %o, want 600", perm)
	}
	k2, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if k1.KeyID() == "" || k1.KeyID() != k2.KeyID() {
		t.Errorf("kid changed across starts: %q then %q", k1.KeyID(), k2.KeyID())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("data dir holds %d files, want only the key", len(entries))
	}
}

func TestLoadOrCreate_RefusesKeyReadableByOthers(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadOrCreate(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, FileName), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(dir); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("err = %v, want a refusal naming chmod 600", err)
	}
}

func TestMint_VerifiesWithPublicJWKS(t *testing.T) {
	k, err := LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	jwks, err := k.PublicJWKS()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(jwks), `"d"`) {
		t.Fatal("public JWKS contains the private key")
	}
	v, err := jwtauth.New(context.Background(), jwtauth.Config{Issuers: []jwtauth.IssuerConfig{{
		Issuer: Issuer, Audiences: []string{Audience}, Algorithms: []string{Algorithm}, JWKS: jwks,
	}}})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	tok, err := k.Mint("carol", []string{"customer"}, time.Hour, map[string]string{"customer_id": "C-100"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.VerifyToken(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	got := []any{p.Subject, p.Roles, p.Issuer, p.Claims["customer_id"]}
	if diff := cmp.Diff([]any{"carol", []string{"customer"}, Issuer, "C-100"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	k.Now = func() time.Time { return time.Now().Add(-2 * time.Hour) }
	old, err := k.Mint("carol", nil, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.VerifyToken(context.Background(), old); err == nil {
		t.Error("expired dev token accepted")
	}
}

func TestMint_RefusesBadInput(t *testing.T) {
	k, err := LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]func() error{
		"empty subject": func() error { _, err := k.Mint("", nil, time.Hour, nil); return err },
		"zero ttl":      func() error { _, err := k.Mint("a", nil, 0, nil); return err },
		"huge ttl":      func() error { _, err := k.Mint("a", nil, 365*24*time.Hour, nil); return err },
		"reserved sub":  func() error { _, err := k.Mint("a", nil, time.Hour, map[string]string{"sub": "admin"}); return err },
		"reserved role": func() error { _, err := k.Mint("a", nil, time.Hour, map[string]string{"roles": "admin"}); return err },
	}
	for name, f := range cases {
		if f() == nil {
			t.Errorf("%s: minted", name)
		}
	}
}
