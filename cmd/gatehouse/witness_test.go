package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/store/sqlite"
	"github.com/gatehousehq/gatehouse/internal/store/storetest"
)

// witnessedGateway starts gatehouse with a note key, checkpoints every
// two events, and one real witness (litewitness) that knows its chain.
func witnessedGateway(t *testing.T) (*gateway, *liteWitness) {
	t.Helper()
	var w *liteWitness
	g := startGateway(t, gwOptions{config: func(g *gateway) string {
		key, err := audit.LoadOrCreateNoteKey(filepath.Join(g.dir, "note.key"), audit.NoteKeyName)
		if err != nil {
			t.Fatal(err)
		}
		w = startLiteWitness(t, "witness.test/w1", audit.Origin("main"), key.Verifier)
		anchor := "  checkpoint_key_file: \"" + g.dir + "/checkpoint.key\"\n"
		return strings.Replace(g.renderConfig(allUsers, gwOptions{}), anchor, anchor+fmt.Sprintf(`  note_key_file: "%s/note.key"
  checkpoint_every: 2
  witnesses: [{url: %q, key: %q}]
  witness_quorum: 1
`, g.dir, w.URL, w.VKey), 1)
	}})
	return g, w
}

// witnessStatus is /ready's audit_witness.
type witnessStatus struct {
	WitnessedSize int64 `json:"witnessed_size"`
	Unwitnessed   int64 `json:"unwitnessed_events"`
	Witnesses     []struct {
		Cosigned int64  `json:"cosigned_size"`
		Error    string `json:"error"`
		Fork     bool   `json:"fork"`
	} `json:"witnesses"`
}

func (g *gateway) witnessStatus() witnessStatus {
	g.t.Helper()
	r := g.do("GET", "/ready", "", nil)
	if r.status != 200 {
		g.t.Fatalf("/ready = %d %s", r.status, r.raw)
	}
	var body struct {
		W witnessStatus `json:"audit_witness"`
	}
	if err := json.Unmarshal([]byte(r.raw), &body); err != nil {
		g.t.Fatal(err)
	}
	return body.W
}

// waitWitness polls /ready until ok(status) or fails after 20s.
func (g *gateway) waitWitness(what string, ok func(witnessStatus) bool) witnessStatus {
	g.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := g.witnessStatus()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("waiting for %s: /ready audit_witness = %+v", what, s)
		}
		time.Sleep(20 * time.Millisecond) // polling the server
	}
}

// chatOK runs a chat and returns the audit event ids its answer names.
func (g *gateway) chatOK() []string {
	g.t.Helper()
	r := g.do("POST", "/v1/chat", "agent", map[string]any{"message": "hello"})
	if r.status != 200 {
		g.t.Fatalf("POST /v1/chat = %d %s", r.status, r.raw)
	}
	var body struct {
		IDs []string `json:"audit_events"`
	}
	_ = json.Unmarshal([]byte(r.raw), &body)
	return body.IDs
}

func TestWitness_RealWitnessCosignsGoesDownCatchesUpAndCatchesARewrite(t *testing.T) {
	g, w := witnessedGateway(t)
	env := g.env
	cfg := []string{"--config", g.cfgPath}

	// Runs are checkpointed and cosigned by the witness; a run's answer
	// names its events (authz.decided, run.started, run.finished).
	ids := g.chatOK()
	if len(ids) != 3 || ids[0] != "main:1" || ids[2] != "main:3" {
		t.Fatalf("the run's answer names audit events %v, want main:1 to main:3", ids)
	}
	for range 2 {
		g.chatOK()
	}
	s := g.waitWitness("the witness's cosignature", func(s witnessStatus) bool {
		return s.WitnessedSize >= 8 && len(s.Witnesses) == 1 && s.Witnesses[0].Cosigned == s.WitnessedSize
	})
	cp := g.do("GET", "/audit/checkpoint?chain=main", "", nil)
	if cp.status != 200 || !strings.HasPrefix(cp.raw, "gatehouse/main\n") || !strings.Contains(cp.raw, "— witness.test/w1 ") {
		t.Fatalf("GET /audit/checkpoint = %d %q, want a note cosigned by witness.test/w1", cp.status, cp.raw)
	}
	proof := g.do("GET", "/v1/audit/proof/"+ids[2]+"?cosigned=1", "agent", nil)
	if proof.status != 200 {
		t.Fatalf("GET /v1/audit/proof/main:2 = %d %s", proof.status, proof.raw)
	}
	if r := g.do("GET", "/v1/audit/proof/"+ids[2], "admin", nil); r.status != 200 {
		t.Errorf("audit.read gets %d for another subject's proof", r.status)
	}
	if r := g.do("GET", "/v1/audit/proof/"+ids[2], "customer", nil); r.status != 404 {
		t.Errorf("another subject gets %d for a proof of agent's event, want 404", r.status)
	}
	if r := g.do("GET", "/v1/audit/proof/main:2", "viewer", nil); r.status != 403 {
		t.Errorf("a viewer (neither respond nor audit.read) gets %d for a proof", r.status)
	}

	// A receipt handed out now, checked offline against the note keys.
	vkey, err := runAuditCmd(t, env, append([]string{"note-key"}, cfg...)...)
	if err != nil {
		t.Fatal(err)
	}
	vkey = strings.TrimSpace(vkey)
	receipt, err := runAuditCmd(t, env, append([]string{"receipt", ids[2]}, cfg...)...)
	if err != nil {
		t.Fatalf("audit receipt: %v", err)
	}
	receiptFile := filepath.Join(g.dir, "receipt.json")
	if err := os.WriteFile(receiptFile, []byte(receipt), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runAuditCmd(t, env, "verify-receipt", receiptFile, "--key", vkey, "--witness-key", w.VKey)
	if err != nil || !strings.Contains(out, "cosigned by 1 witnesses") {
		t.Fatalf("verify-receipt = %q, %v", out, err)
	}

	// Witness down: runs go on, the lag shows, and it catches up.
	w.Stop()
	for range 3 {
		g.chatOK()
	}
	down := g.waitWitness("the lag", func(s witnessStatus) bool {
		return s.Unwitnessed > 0 && s.Witnesses[0].Error != ""
	})
	if !strings.Contains(down.Witnesses[0].Error, "unreachable") {
		t.Errorf("witness error while down = %q", down.Witnesses[0].Error)
	}
	metrics := g.do("GET", "/metrics", "admin", nil)
	if !strings.Contains(metrics.raw, "gatehouse_audit_unwitnessed_events ") || strings.Contains(metrics.raw, "gatehouse_audit_unwitnessed_events 0\n") {
		t.Errorf("/metrics does not count the unwitnessed events:\n%s", grepLines(metrics.raw, "unwitnessed"))
	}
	w.Start()
	g.chatOK()
	up := g.waitWitness("catching up", func(s witnessStatus) bool {
		return s.Witnesses[0].Error == "" && s.WitnessedSize > down.WitnessedSize && s.Unwitnessed <= 1
	})
	t.Logf("witnessed %d → %d (down) → %d after it returned", s.WitnessedSize, down.WitnessedSize, up.WitnessedSize)
	// Intact: nothing wrong but, at most, the few events after the last
	// cosigned checkpoint.
	if out, err := runAuditCmd(t, env, append([]string{"verify", "--witness-quorum", "1"}, cfg...)...); err != nil &&
		(!strings.Contains(err.Error(), "unwitnessed tail") || strings.Contains(err.Error(), "more problems") || !strings.Contains(err.Error(), fmt.Sprintf("seq %d:", up.WitnessedSize+1))) {
		t.Fatalf("verify --witness-quorum 1 on the intact log = %q, %v", out, err)
	}

	// Someone with the database and both signing keys rewrites history.
	if err := g.stop(); err != nil {
		t.Fatal(err)
	}
	rewriteHistory(t, g.dir, 2)
	out, err = runAuditCmd(t, env, append([]string{"verify"}, cfg...)...)
	if err != nil {
		t.Fatalf("the rewrite is consistent by itself, yet verify = %q, %v", out, err)
	}
	out, err = runAuditCmd(t, env, append([]string{"verify", "--witness-quorum", "1"}, cfg...)...)
	if err == nil || !strings.Contains(out+err.Error(), "unwitnessed tail") {
		t.Errorf("verify --witness-quorum 1 after the rewrite = %q, %v; want the whole chain unwitnessed", out, err)
	}
	out, err = runAuditCmd(t, env, append([]string{"verify", "--receipt", receiptFile}, cfg...)...)
	if err == nil || !strings.Contains(out+err.Error(), "history rewritten") {
		t.Errorf("verify --receipt (handed out before the rewrite) = %q, %v", out, err)
	}

	sameSizeFork(t, g.dir, vkey, w, up.WitnessedSize)

	// Restarted on the rewritten log, gatehouse offers the witness a
	// checkpoint of a size it cosigned with another root: refused, reported.
	g.stdout, g.stderr = &syncBuffer{}, &syncBuffer{}
	g.serve([]string{"serve", "--config", g.cfgPath, "--addr", "127.0.0.1:0"}, func(k string) string { return env[k] })
	fork := g.waitWitness("the fork", func(s witnessStatus) bool { return s.Witnesses[0].Fork })
	t.Logf("reported: %s", fork.Witnesses[0].Error)
	if !strings.Contains(fork.Witnesses[0].Error, "fork") {
		t.Errorf("fork error = %q", fork.Witnesses[0].Error)
	}
	if !strings.Contains(g.stderr.String(), "fork") {
		t.Errorf("the server log does not report the fork:\n%s", grepLines(g.stderr.String(), "witness"))
	}
}

// sameSizeFork offers the witness the rewritten checkpoint of the very
// size it cosigned: two checkpoints of one size, refused and reported.
func sameSizeFork(t *testing.T, dir, vkey string, lw *liteWitness, cosigned int64) {
	t.Helper()
	ctx := context.Background()
	st, db, closeFiles := openAuditFiles(t, dir)
	defer closeFiles()
	// The attacker's checkpoint of the size the witness cosigned is the
	// latest one offered (those after it are set aside).
	if _, err := db.Exec(`DELETE FROM audit_notes WHERE size > ?`, cosigned); err != nil {
		t.Fatal(err)
	}
	notes, err := st.Notes(ctx, "main")
	if err != nil || len(notes) == 0 {
		t.Fatalf("notes after the rewrite: %v", err)
	}
	logKey, err := audit.ParseVerifierKey(vkey)
	if err != nil {
		t.Fatal(err)
	}
	wv, err := audit.ParseVerifierKey(lw.VKey)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := audit.NewWitnessing(audit.WitnessConfig{Store: st, ChainID: "main", LogKey: logKey, Quorum: 1,
		Witnesses: []audit.Witness{{URL: lw.URL, Verifier: wv}}, RetryTicks: make(chan time.Time)})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	size := notes[len(notes)-1].Size
	deadline := time.Now().Add(20 * time.Second)
	for {
		s, err := ws.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if s.Witnesses[0].Fork {
			want := fmt.Sprintf("from size %d to %d", size, size)
			if !strings.Contains(s.Witnesses[0].Error, want) || s.WitnessedSize != 0 {
				t.Errorf("same-size fork reported as %+v, want %q and nothing witnessed", s, want)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no fork reported for the rewritten checkpoint of size %d: %+v", size, s)
		}
		time.Sleep(20 * time.Millisecond) // polling the witnessing goroutine
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// rewriteHistory is the attacker holding the database and the keys: event
// seq is edited, every later hash recomputed, the tree rebuilt, the note
// checkpoints re-signed at their sizes (cosignatures, which cannot be
// forged, dropped) and the old-style checkpoints re-signed.
func rewriteHistory(t *testing.T, dir string, seq int64) {
	t.Helper()
	ctx := context.Background()
	st, db, closeFiles := openAuditFiles(t, dir)
	defer closeFiles()
	var err error
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	events := storetest.Events(t, st)
	hashes := map[int64]string{}
	prev := audit.GenesisHash
	for _, e := range events {
		if e.Seq == seq {
			e.Reason = "rewritten"
		}
		e.PrevHash = prev
		if e.Hash, err = audit.ComputeHash(e); err != nil {
			t.Fatal(err)
		}
		sealed, err := audit.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		exec(`UPDATE audit_events SET prev_hash = ?, hash = ?, body = ? WHERE chain_id = ? AND seq = ?`,
			e.PrevHash, e.Hash, string(sealed[0].Canonical), e.ChainID, e.Seq)
		prev, hashes[e.Seq] = e.Hash, e.Hash
	}
	notes, err := st.Notes(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	exec(`DELETE FROM audit_tree`)
	exec(`DELETE FROM audit_notes`)
	exec(`DELETE FROM audit_cosignatures`)
	if _, err := audit.BuildTree(ctx, st, "main"); err != nil {
		t.Fatal(err)
	}
	noteKey, err := audit.LoadNoteKey(filepath.Join(dir, "note.key"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range notes {
		re, err := audit.SignNote(noteKey, "main", n.Size, storetest.StoredRoot(t, st, "main", n.Size))
		if err != nil {
			t.Fatal(err)
		}
		if err := st.SaveNote(ctx, re); err != nil {
			t.Fatal(err)
		}
	}
	key, err := audit.LoadKey(filepath.Join(dir, "checkpoint.key"))
	if err != nil {
		t.Fatal(err)
	}
	cps, err := st.Checkpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cps {
		re := audit.SignCheckpoint(key, c.ChainID, c.Seq, hashes[c.Seq], c.Time)
		exec(`UPDATE audit_checkpoints SET hash = ?, signature = ? WHERE chain_id = ? AND seq = ? AND time_ns = ?`,
			re.Hash, re.Signature, c.ChainID, c.Seq, c.Time.UnixNano())
	}
}

// The console's audit page shows, for each event, whether it is in its
// chain's latest checkpoint cosigned by a witness.
func TestConsole_AuditShowsEachEventsInclusionInTheWitnessedCheckpoint(t *testing.T) {
	g, _ := witnessedGateway(t)
	for range 3 {
		g.chatOK()
	}
	g.waitWitness("a cosigned checkpoint", func(s witnessStatus) bool { return s.WitnessedSize >= 8 })
	b := openTab(t, newBrowser(t))
	b.signInTo(g.base, g.keys["admin"])
	b.do(chromedp.Click(chromedp.CSS(`#nav a[data-page="audit"]`)), chromedp.WaitVisible(chromedp.CSS(`table.events tbody tr`)))
	b.waitFor("the witnessed column", `[...document.querySelectorAll('td.witnessed')].some(td => /^✓ in \d+$/.test(td.textContent))`)
	cells := evalIn[[]string](b, `[...document.querySelectorAll('td.witnessed')].map(td => td.textContent + '|' + td.firstChild.title)`)
	for _, c := range cells {
		text, title, _ := strings.Cut(c, "|")
		switch {
		case strings.HasPrefix(text, "✓ in "):
			if !strings.Contains(title, "cosigned by witness.test/w1") {
				t.Errorf("witnessed cell %q has title %q", text, title)
			}
		case text != "not yet":
			t.Errorf("witnessed cell %q", text)
		}
	}
	b.screenshots("audit-witnessed")
}

// openAuditFiles opens the data dir's audit log twice, as the attacker
// holding the database does: through the store, and as raw SQL; close
// closes both.
func openAuditFiles(t *testing.T, dir string) (st *sqlite.AuditStore, db *sql.DB, close func()) {
	t.Helper()
	st, err := sqlite.OpenAudit(context.Background(), filepath.Join(dir, "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	db, err = sql.Open("sqlite", filepath.Join(dir, "audit.db"))
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	return st, db, func() { db.Close(); st.Close() }
}
