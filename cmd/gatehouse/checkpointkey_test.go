package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/store/sqlite"
)

// writePublicKey writes pub as audit.checkpoint_public_key_file reads it.
func writePublicKey(t *testing.T, pub ed25519.PublicKey) string {
	t.Helper()
	b, err := audit.MarshalPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "checkpoint.pub")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// forgeCheckpoint stores a checkpoint of the log's real head signed by a
// key nobody configured.
func forgeCheckpoint(t *testing.T, dbPath string) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.OpenAudit(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	head, ok, err := st.Head(ctx, "main")
	if err != nil || !ok {
		t.Fatalf("head: %v %v", ok, err)
	}
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	if err := st.SaveCheckpoint(ctx, audit.SignCheckpoint(other, "main", head.Seq, head.Hash, time.Now())); err != nil {
		t.Fatal(err)
	}
}

// audit verify --public-key: the verification key alone pins checkpoints,
// and one that cannot be read is an error, never "no pinned key".
func TestAuditCommand_VerifyWithAPublicKeyFile(t *testing.T) {
	dir := auditDataDir(t, 3)
	dsn := "sqlite://" + filepath.Join(dir, "audit.db")
	pemOut, err := runAuditCmd(t, nil, "public-key", "--data-dir", dir)
	if err != nil || !strings.HasPrefix(pemOut, "-----BEGIN PUBLIC KEY-----") {
		t.Fatalf("public-key = %q, %v", pemOut, err)
	}
	pubFile := filepath.Join(t.TempDir(), "checkpoint.pub")
	if err := os.WriteFile(pubFile, []byte(pemOut), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runAuditCmd(t, nil, "verify", "--dsn", dsn, "--public-key", pubFile); err != nil || !strings.HasPrefix(out, "ok: 3 events") {
		t.Fatalf("verify with the right public key = %q, %v", out, err)
	}
	for name, content := range map[string]string{"garbage": "not a key", "a private key": mustRead(t, filepath.Join(dir, "audit-checkpoint.key"))} {
		bad := filepath.Join(t.TempDir(), "bad.pub")
		if err := os.WriteFile(bad, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := runAuditCmd(t, nil, "verify", "--dsn", dsn, "--public-key", bad); err == nil || strings.HasPrefix(out, "ok") {
			t.Errorf("verify with %s as the public key = %q, %v; want an error", name, out, err)
		}
	}
	if out, err := runAuditCmd(t, nil, "verify", "--dsn", dsn, "--public-key", filepath.Join(t.TempDir(), "missing.pub")); err == nil {
		t.Errorf("verify with a missing public key = %q; want an error", out)
	}

	forgeCheckpoint(t, filepath.Join(dir, "audit.db"))
	out, err := runAuditCmd(t, nil, "verify", "--dsn", dsn, "--public-key", pubFile)
	if err == nil || !strings.Contains(err.Error(), "unexpected key") {
		t.Errorf("a checkpoint signed by another key passed: %q, %v", out, err)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A configured checkpoint key that cannot be loaded is a start-up error:
// /admin/audit/verify must never fall back to taking any signer.
func TestServe_CheckpointKeysThatCannotBeLoadedAreStartUpErrors(t *testing.T) {
	g := startGateway(t, gwOptions{})
	base := g.renderConfig(allUsers, gwOptions{})
	garbage := filepath.Join(t.TempDir(), "garbage.pub")
	if err := os.WriteFile(garbage, []byte("not a key"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	for name, extra := range map[string]string{
		"missing public key":    filepath.Join(t.TempDir(), "missing.pub"),
		"unreadable public key": garbage,
		"another key's half":    writePublicKey(t, other.Public().(ed25519.PublicKey)),
	} {
		t.Run(name, func(t *testing.T) {
			cfg := strings.Replace(base, "  checkpoint_key_file:", "  checkpoint_public_key_file: \""+extra+"\"\n  checkpoint_key_file:", 1)
			path := filepath.Join(t.TempDir(), "gatehouse.yaml")
			if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := serveFails(t, path, g.env); err == nil || !strings.Contains(err.Error(), "checkpoint_public_key_file") {
				t.Errorf("serve: %v; want an error naming audit.checkpoint_public_key_file", err)
			}
		})
	}

	// The right public half serves, and /admin/audit/verify pins it.
	pg := startGateway(t, gwOptions{config: func(pg *gateway) string {
		key, err := audit.LoadOrCreateKey(filepath.Join(pg.dir, "checkpoint.key"))
		if err != nil {
			t.Fatal(err)
		}
		pub := writePublicKey(t, key.Public().(ed25519.PublicKey))
		return strings.Replace(pg.renderConfig(allUsers, gwOptions{}), "  checkpoint_key_file:", "  checkpoint_public_key_file: \""+pub+"\"\n  checkpoint_key_file:", 1)
	}})
	if r := pg.do("GET", "/admin/audit/verify", "admin", nil); r.status != 200 || r.body["ok"] != true {
		t.Fatalf("verify: %d %s", r.status, r.raw)
	}
	forgeCheckpoint(t, filepath.Join(pg.dir, "audit.db"))
	if r := pg.do("GET", "/admin/audit/verify", "admin", nil); r.status != 200 || r.body["ok"] != false || !strings.Contains(r.raw, "unexpected key") {
		t.Errorf("verify after a forged checkpoint: %d %s", r.status, r.raw)
	}
}

// config check reads audit.checkpoint_public_key_file as serve does.
func TestConfigCheck_CheckpointPublicKeyFile(t *testing.T) {
	g := startGateway(t, gwOptions{})
	garbage := filepath.Join(t.TempDir(), "garbage.pub")
	if err := os.WriteFile(garbage, []byte("not a key"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	for pub, wantErr := range map[string]bool{garbage: true, writePublicKey(t, other.Public().(ed25519.PublicKey)): false} {
		cfg := strings.Replace(g.renderConfig(allUsers, gwOptions{}), "  checkpoint_key_file:", "  checkpoint_public_key_file: \""+pub+"\"\n  checkpoint_key_file:", 1)
		path := filepath.Join(t.TempDir(), "gatehouse.yaml")
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		var out, errOut strings.Builder
		err := run(context.Background(), []string{"config", "check", path}, func(k string) string { return g.env[k] }, nil, &out, &errOut)
		if (err != nil) != wantErr || (err != nil && !strings.Contains(err.Error(), "checkpoint_public_key_file")) {
			t.Errorf("config check with %s: %v; want an error: %v", filepath.Base(pub), err, wantErr)
		}
	}
}
