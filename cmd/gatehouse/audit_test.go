package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/store/sqlite"
)

// auditDataDir makes a dev data dir holding a log of n events with a
// checkpoint at its end.
func auditDataDir(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	st, err := sqlite.OpenAudit(ctx, filepath.Join(dir, "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	key, err := audit.LoadOrCreateKey(filepath.Join(dir, "audit-checkpoint.key"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.New(audit.Config{Store: st, ChainID: "main", CheckpointKey: key})
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		if err := l.Record(ctx, audit.Event{Type: audit.TypeToolDecided, Subject: "admin", Decision: audit.Allow}); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	return dir
}

func runAuditCmd(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := runAudit(context.Background(), args, func(k string) string { return env[k] }, &out, &errOut)
	return out.String() + errOut.String(), err
}

func TestAuditCommand_VerifyTailExport(t *testing.T) {
	dir := auditDataDir(t, 3)
	out, err := runAuditCmd(t, nil, "verify", "--data-dir", dir)
	if err != nil || !regexp.MustCompile(`^ok: 3 events, head [0-9a-f]{64}\n$`).MatchString(out) {
		t.Fatalf("verify = %q, %v", out, err)
	}
	out, err = runAuditCmd(t, nil, "tail", "--dsn", "sqlite://"+filepath.Join(dir, "audit.db"), "-n", "2")
	if err != nil || strings.Count(out, "tool.decided") != 2 {
		t.Errorf("tail = %q, %v", out, err)
	}
	export := filepath.Join(t.TempDir(), "export.jsonl")
	out, err = runAuditCmd(t, nil, "export", "--data-dir", dir)
	if err != nil || strings.Count(out, "\n") != 4 {
		t.Fatalf("export = %q, %v; want 3 events and 1 checkpoint", out, err)
	}
	if err := os.WriteFile(export, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}

	// Cut the tail and drop the stored checkpoint: only the exported one knows.
	db, err := sql.Open("sqlite", filepath.Join(dir, "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DELETE FROM audit_events WHERE seq = 3; DELETE FROM audit_checkpoints`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if out, err := runAuditCmd(t, nil, "verify", "--data-dir", dir); err != nil {
		t.Errorf("verify without the exported checkpoint = %q, %v; a clean cut is invisible without it", out, err)
	}
	_, err = runAuditCmd(t, nil, "verify", "--data-dir", dir, "--checkpoint", export)
	if !errors.Is(err, audit.ErrTampered) || !strings.Contains(err.Error(), "chain main seq 3") {
		t.Errorf("verify --checkpoint = %v, want the cut tail named at chain main seq 3", err)
	}
}

func TestAuditCommand_Hash(t *testing.T) {
	key := "0123456789abcdef0123"
	out, err := runAuditCmd(t, map[string]string{"GATEHOUSE_AUDIT_HMAC_KEY": key}, "hash", "C-100")
	if err != nil || out != audit.HashValue([]byte(key), "C-100")+"\n" {
		t.Errorf("hash = %q, %v", out, err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "audit-hmac.key"), []byte("abcdefabcdefabcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = runAuditCmd(t, nil, "hash", "--data-dir", dir, "C-100")
	if err != nil || out != audit.HashValue([]byte("abcdefabcdefabcdef"), "C-100")+"\n" {
		t.Errorf("hash --data-dir = %q, %v", out, err)
	}
	if _, err := runAuditCmd(t, nil, "hash", "C-100"); err == nil {
		t.Error("hash without a key succeeded")
	}
}

// TestAuditCommand_HashRefusesAShortKey: the CLI resolves the key as the
// server does, so it never hashes with a key the server would refuse.
func TestAuditCommand_HashRefusesAShortKey(t *testing.T) {
	short := strings.Repeat("k", audit.MinHMACKeyBytes-1)
	if out, err := runAuditCmd(t, map[string]string{"GATEHOUSE_AUDIT_HMAC_KEY": short}, "hash", "C-100"); err == nil || !strings.Contains(err.Error(), "at least 16 bytes") {
		t.Errorf("hash with a %d-byte key from the environment = %q, %v; want refused", len(short), out, err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "audit-hmac.key"), []byte(short+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := runAuditCmd(t, nil, "hash", "--data-dir", dir, "C-100"); err == nil || !strings.Contains(err.Error(), "at least 16 bytes") {
		t.Errorf("hash with a %d-byte key file = %q, %v; want refused", len(short), out, err)
	}
}

func TestAuditCommand_NeedsALog(t *testing.T) {
	if _, err := runAuditCmd(t, nil, "verify"); err == nil || !strings.Contains(err.Error(), "--dsn") {
		t.Errorf("verify without a log = %v", err)
	}
	if _, err := runAuditCmd(t, nil, "bogus"); !errors.Is(err, errUsage) {
		t.Errorf("unknown command = %v, want usage", err)
	}
}

// The audit commands read only the config's audit section: an auditor
// verifying the log need not hold the secrets the rest of the file names.
func TestAuditCommand_ConfigNeedsOnlyTheAuditSection(t *testing.T) {
	extra := `  crm_lookup: {type: http, method: GET, url: "http://127.0.0.1:9/customers/{customer_id}",
               headers: {Authorization: "Bearer ${CRM_TOKEN}"}, permission: claims.read,
               parameters: {type: object, properties: {customer_id: {type: string}}, required: [customer_id]}}`
	g := startGateway(t, gwOptions{extraYAML: extra, env: map[string]string{"CRM_TOKEN": "crm-secret-123"}})
	if r := g.do("POST", "/v1/chat", "agent", map[string]string{"message": "hi"}); r.status != 200 {
		t.Fatalf("chat: %d %s", r.status, r.raw)
	}
	auditor := map[string]string{}
	for k, v := range g.env {
		if k != "CRM_TOKEN" {
			auditor[k] = v
		}
	}
	out, err := runAuditCmd(t, auditor, "verify", "--config", g.cfgPath)
	if err != nil || !strings.HasPrefix(out, "ok: ") {
		t.Fatalf("verify without the tool's secret = %q, %v", out, err)
	}
	// A ${VAR} inside the audit section is still needed.
	cfg, err := os.ReadFile(g.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	withVar := strings.Replace(string(cfg), "content: hmac", "content: ${AUDIT_CONTENT}", 1)
	path := filepath.Join(t.TempDir(), "gatehouse.yaml")
	if err := os.WriteFile(path, []byte(withVar), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := runAuditCmd(t, auditor, "verify", "--config", path); err == nil || !strings.Contains(err.Error(), "AUDIT_CONTENT") {
		t.Errorf("verify with the audit section's variable unset = %q, %v", out, err)
	}
}

// A mistyped log location is an error, not "ok: 0 events" over a log the
// command just created.
func TestAuditCommand_MissingLogIsAnError(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"verify", "--dsn", "sqlite://" + filepath.Join(dir, "typo", "audit.db")},
		{"verify", "--data-dir", filepath.Join(dir, "no-such-data-dir")},
		{"export", "--data-dir", filepath.Join(dir, "no-such-data-dir")},
	} {
		out, err := runAuditCmd(t, nil, args...)
		if err == nil || !strings.Contains(err.Error(), "no audit database at") || strings.Contains(out, "ok:") {
			t.Errorf("%v = %q, %v", args, out, err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the commands created %v", entries)
	}
}

// A checkpoint key the config names must be found: verifying without it
// would accept checkpoints signed by any key.
func TestAuditCommand_ConfiguredCheckpointKeyMustExist(t *testing.T) {
	g := startGateway(t, gwOptions{})
	if r := g.do("POST", "/v1/chat", "agent", map[string]string{"message": "hi"}); r.status != 200 {
		t.Fatalf("chat: %d %s", r.status, r.raw)
	}
	if out, err := runAuditCmd(t, g.env, "verify", "--config", g.cfgPath); err != nil || !strings.HasPrefix(out, "ok: ") {
		t.Fatalf("verify with the key: %q, %v", out, err)
	}
	cfg, err := os.ReadFile(g.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	moved := filepath.Join(t.TempDir(), "gatehouse.yaml")
	if err := os.WriteFile(moved, []byte(strings.Replace(string(cfg), g.dir+"/checkpoint.key", "relative/checkpoint.key", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runAuditCmd(t, g.env, "verify", "--config", moved)
	if err == nil || !strings.Contains(err.Error(), "the checkpoint key relative/checkpoint.key is not there") || strings.Contains(out, "ok:") {
		t.Errorf("verify without the configured key: %q, %v", out, err)
	}
}

// A dev data dir has its checkpoint key from the first start: one without
// it is an error, not a verify that accepts any signer.
func TestAuditCommand_DataDirWithoutItsKeyIsAnError(t *testing.T) {
	dir := auditDataDir(t, 3)
	if err := os.Remove(filepath.Join(dir, "audit-checkpoint.key")); err != nil {
		t.Fatal(err)
	}
	out, err := runAuditCmd(t, nil, "verify", "--data-dir", dir)
	if err == nil || !strings.Contains(err.Error(), "checkpoint key") || strings.Contains(out, "ok:") {
		t.Errorf("verify without the data dir's key = %q, %v", out, err)
	}
}
