package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/approval"
	"github.com/gatehousehq/gatehouse/internal/dlp"
	"github.com/gatehousehq/gatehouse/internal/passthrough"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/session"
	"github.com/gatehousehq/gatehouse/internal/store/storetest"
)

func openAudit(t testing.TB, path string) *AuditStore {
	t.Helper()
	s, err := OpenAudit(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// rawDB opens another connection to the file, outside the store.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestAuditStoreConformance(t *testing.T) {
	storetest.TestAuditStore(t, func(t *testing.T) audit.Store {
		return openAudit(t, filepath.Join(t.TempDir(), "audit.db"))
	})
}

func TestAuditTreeConformance(t *testing.T) {
	storetest.TestAuditTree(t, func(t *testing.T) audit.Store {
		return openAudit(t, filepath.Join(t.TempDir(), "audit.db"))
	})
}

func TestAuditTamper(t *testing.T) {
	storetest.TestAuditTamper(t, func(t *testing.T) (audit.Store, storetest.Exec) {
		path := filepath.Join(t.TempDir(), "audit.db")
		s := openAudit(t, path)
		db := rawDB(t, path)
		return s, func(t *testing.T, q string, args ...any) {
			t.Helper()
			if _, err := db.Exec(q, args...); err != nil {
				t.Fatalf("tamper %q: %v", q, err)
			}
		}
	})
}

func TestSessionStoreConformance(t *testing.T) {
	storetest.TestSessionStore(t, func(t *testing.T) session.Store {
		s, err := OpenSessions(context.Background(), filepath.Join(t.TempDir(), "sessions.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// A byte flipped in the database file itself, the crudest edit, is found.
func TestAuditFileByteFlipIsDetected(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	s := openAudit(t, path)
	l, err := audit.New(audit.Config{Store: s, ChainID: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"alice", "bob", "carol-the-customer", "dave"} {
		if err := l.Record(ctx, audit.Event{Type: audit.TypeToolDecided, Subject: who, Reason: "because " + who}); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	s.Close()
	// Fold the WAL into the main file so the bytes are there.
	db := rawDB(t, path)
	if _, err := db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte("because carol"))
	if i < 0 {
		t.Fatal("event text not found in the database file")
	}
	data[i+len("because c")] ^= 0x01 // carol -> barol
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}

	res, err := audit.Verify(ctx, openAudit(t, path), audit.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK || res.FirstBad == nil || res.FirstBad.Seq != 3 || !strings.Contains(res.FirstBad.Reason, "edited") {
		t.Errorf("Verify = %+v, first bad %+v; want seq 3 edited", res, res.FirstBad)
	}
}

// With the file write-locked by another connection, Record fails closed
// within the commit bound, and works again once the lock is gone.
func TestRecordFailsClosedWhenFileLocked(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	s := openAudit(t, path)
	var conn *sql.Conn
	l := storetest.RecordFailsClosed(t, s, "the file locked", func(t *testing.T) {
		var err error
		if conn, err = rawDB(t, path).Conn(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, `BEGIN EXCLUSIVE`); err != nil {
			t.Fatal(err)
		}
	})

	if _, err := conn.ExecContext(ctx, `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if err := l.Ready(ctx); err != nil {
		t.Errorf("Ready after unlock = %v", err)
	}
	if err := l.Record(ctx, audit.Event{Type: audit.TypeRunFinished}); err != nil {
		t.Fatalf("Record after unlock = %v", err)
	}
	l.Close()
	res, err := audit.Verify(ctx, s, audit.VerifyOptions{})
	if err != nil || !res.OK || res.Events != 2 {
		t.Errorf("Verify = %+v, %v; want ok with 2 events (the refused one not recorded)", res, err)
	}
}

func TestOpenRejectsBadPath(t *testing.T) {
	if _, err := OpenAudit(context.Background(), "a?b"); err == nil {
		t.Error("OpenAudit accepted a path with '?'")
	}
}

// Durability comes from these settings; a commit must be fsync'd.
func TestOpenSetsWALAndFullSync(t *testing.T) {
	s := openAudit(t, filepath.Join(t.TempDir(), "audit.db"))
	var mode string
	var sync, busy int
	if err := s.db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if err := s.db.QueryRow(`PRAGMA synchronous`).Scan(&sync); err != nil {
		t.Fatal(err)
	}
	if err := s.db.QueryRow(`PRAGMA busy_timeout`).Scan(&busy); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" || sync != 2 || busy != int(BusyTimeout.Milliseconds()) {
		t.Errorf("journal_mode %q, synchronous %d, busy_timeout %d; want wal, 2 (FULL), %d", mode, sync, busy, BusyTimeout.Milliseconds())
	}
}

// A log written under the first schema is carried over by the migrations
// (AUTOINCREMENT and the time index dropped, the trace id column added):
// same events, same ids, the chain verifies, and it continues.
func TestAuditMigrationKeepsAnOlderLog(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	db, err := openDBWith(ctx, path, "audit", func(name string) bool { return strings.HasSuffix(name, "/001_init.sql") })
	if err != nil {
		t.Fatal(err)
	}
	record := func(s audit.Store, n int) {
		t.Helper()
		l, err := audit.New(audit.Config{Store: s, ChainID: "main"})
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if err := l.Record(ctx, audit.Event{Type: audit.TypeToolDecided, Subject: fmt.Sprintf("user-%d", i%3),
				Decision: audit.Allow, Resource: "claims_status"}); err != nil {
				t.Fatal(err)
			}
		}
		l.Close()
	}
	// Written as the code of the first schema wrote them (its columns only).
	var before []audit.Event
	prev := audit.GenesisHash
	for i := range 25 {
		e := audit.Event{ChainID: "main", Seq: int64(i + 1), PrevHash: prev, Time: time.Unix(1700000000, int64(i)).UTC(),
			Type: audit.TypeToolDecided, Subject: fmt.Sprintf("user-%d", i%3), Decision: audit.Allow, Resource: "claims_status"}
		if e.Hash, err = audit.ComputeHash(e); err != nil {
			t.Fatal(err)
		}
		prev = e.Hash
		body, err := audit.EncodeCanonical(e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`INSERT INTO audit_events (chain_id, seq, time_ns, type, subject, decision, prev_hash, hash, body)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.ChainID, e.Seq, e.Time.UnixNano(), e.Type, e.Subject, e.Decision,
			e.PrevHash, e.Hash, string(body)); err != nil {
			t.Fatal(err)
		}
		before = append(before, e)
	}
	var ddl string
	if err := db.QueryRow(`SELECT sql FROM sqlite_master WHERE name = 'audit_events'`).Scan(&ddl); err != nil || !strings.Contains(ddl, "AUTOINCREMENT") {
		t.Fatalf("the old schema should use AUTOINCREMENT: %q, %v", ddl, err)
	}
	db.Close()

	s := openAudit(t, path)
	var after []audit.Event
	listed, err := s.List(ctx, audit.Filter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for i, en := range listed {
		if en.ID != int64(i+1) {
			t.Errorf("event %d has id %d after the migration", i+1, en.ID)
		}
		after = append(after, en.Event)
	}
	if len(after) != 25 || !reflect.DeepEqual(before, after) {
		t.Fatalf("events changed by the migration: %d before, %d after", len(before), len(after))
	}
	if err := s.db.QueryRow(`SELECT sql FROM sqlite_master WHERE name = 'audit_events'`).Scan(&ddl); err != nil || strings.Contains(ddl, "AUTOINCREMENT") {
		t.Fatalf("migrated schema: %q, %v", ddl, err)
	}
	var n int
	if err := s.db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_events'`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("indexes on audit_events: %d, %v (want the unique (chain_id, seq), subject and type)", n, err)
	}
	record(s, 5)
	res, err := audit.Verify(ctx, s, audit.VerifyOptions{})
	if err != nil || !res.OK || res.Events != 30 {
		t.Fatalf("verify after migration: %+v, %v", res, err)
	}
	all, err := s.List(ctx, audit.Filter{Limit: 100})
	if err != nil || len(all) != 30 {
		t.Fatalf("list after migration: %d events, %v", len(all), err)
	}
	for i := 1; i < len(all); i++ {
		if all[i].ID <= all[i-1].ID || all[i].Event.Seq != all[i-1].Event.Seq+1 {
			t.Fatalf("ids or seqs do not increase at %d: %d/%d after %d/%d", i, all[i].ID, all[i].Event.Seq, all[i-1].ID, all[i-1].Event.Seq)
		}
	}
}

// A failed or cancelled write transaction is rolled back and the writer's
// connection keeps working for the next one.
func TestWriterRollsBackAndRecovers(t *testing.T) {
	ctx := context.Background()
	s := openAudit(t, filepath.Join(t.TempDir(), "audit.db"))
	insert := insertCheckpointRow
	count := func() int { return countCheckpointRows(t, s) }
	boom := errors.New("boom")
	if err := s.w.inTx(ctx, func(tx txn) error {
		if err := insert(tx, 1); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("failed transaction: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	if err := s.w.inTx(cctx, func(tx txn) error {
		if err := insert(tx, 2); err != nil {
			return err
		}
		cancel()
		return insert(tx, 3)
	}); err == nil {
		t.Fatal("cancelled transaction committed")
	}
	if n := count(); n != 0 {
		t.Fatalf("%d rows left by failed transactions", n)
	}
	if err := s.w.inTx(ctx, func(tx txn) error { return insert(tx, 4) }); err != nil {
		t.Fatalf("transaction after failures: %v", err)
	}
	if n := count(); n != 1 {
		t.Fatalf("rows after one good transaction: %d", n)
	}
}

// When the connection must be dropped with a transaction open (a failed
// ROLLBACK), it is discarded: no pooled reader ever runs inside that
// transaction, and the next write starts clean. A panicking transaction
// is rolled back too.
func TestWriterDiscardsAConnectionLeftInATransaction(t *testing.T) {
	ctx := context.Background()
	s := openAudit(t, filepath.Join(t.TempDir(), "audit.db"))
	s.db.SetMaxOpenConns(1) // a connection handed back would be the one readers get
	insert := insertCheckpointRow
	count := func() int { return countCheckpointRows(t, s) }
	// Simulate the failed ROLLBACK: drop the connection mid-transaction.
	s.w.lock <- struct{}{}
	tx := txn{ctx: ctx, w: s.w}
	if _, err := tx.exec("BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	if err := insert(tx, 1); err != nil {
		t.Fatal(err)
	}
	s.w.closeConn()
	<-s.w.lock
	if n := count(); n != 0 {
		t.Fatalf("a reader saw %d rows of a transaction that never committed", n)
	}
	s.db.SetMaxOpenConns(0) // the writer keeps its own connection from here on

	func() {
		defer func() { _ = recover() }()
		_ = s.w.inTx(ctx, func(tx txn) error {
			if err := insert(tx, 2); err != nil {
				return err
			}
			panic("boom")
		})
	}()
	if err := s.w.inTx(ctx, func(tx txn) error { return insert(tx, 3) }); err != nil {
		t.Fatalf("write after the dropped connection and the panic: %v", err)
	}
	if n := count(); n != 1 {
		t.Fatalf("%d rows; want only the committed one", n)
	}
}

// insertCheckpointRow writes a placeholder row in a writer transaction.
func insertCheckpointRow(tx txn, seq int) error {
	_, err := tx.exec(`INSERT INTO audit_checkpoints (chain_id, seq, hash, time_ns, public_key, signature)
		VALUES ('c', ?, 'h', 0, x'00', x'00')`, seq)
	return err
}

// countCheckpointRows counts committed checkpoint rows through the pool.
func countCheckpointRows(t *testing.T, s *AuditStore) int {
	t.Helper()
	var n int
	if err := s.db.QueryRow(`SELECT count(*) FROM audit_checkpoints`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Checkpoints run beside the commits (SQLite's own, inside them, are
// off), and still keep the WAL small: reused from its start after each
// checkpoint, it stays far below what this write load adds up to (over
// 10 MB of session pages, 4 MB of audit pages, without checkpoints).
func TestWALStaysSmallWithCheckpointsBesideCommits(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := OpenSessions(ctx, filepath.Join(dir, "sessions.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a, err := OpenAudit(ctx, filepath.Join(dir, "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	body := strings.Repeat("claim status for C-100, ", 40)
	for i := range 1000 {
		if i < 400 {
			ss := &session.Session{Subject: "customer", Agent: "support_agent", Messages: []session.Message{
				{Role: "user", Content: body}, {Role: "assistant", Content: body}}}
			if err := s.Create(ctx, ss); err != nil {
				t.Fatal(err)
			}
		}
		e := audit.Sealed{Event: audit.Event{ChainID: "c", Seq: int64(i + 1), Type: audit.TypeRunStarted, Subject: "customer",
			Time: time.Unix(0, int64(i))}, Canonical: []byte(`{"seq":` + strconv.Itoa(i+1) + `}`)}
		if err := a.Append(ctx, []audit.Sealed{e}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"sessions.db-wal", "audit.db-wal"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > 3<<20 {
			t.Errorf("%s is %d bytes after the writes; want it checkpointed as they go (< 3 MiB)", name, fi.Size())
		}
	}
}

// The audit commands open a log without creating or migrating it: a
// mistyped path is an error (not a new, empty, intact log), and a file an
// older version wrote is left as it is.
func TestOpenAuditExisting_CreatesAndMigratesNothing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	missing := filepath.Join(dir, "typo", "audit.db")
	if _, err := OpenAuditExisting(ctx, missing); err == nil || !strings.Contains(err.Error(), "no audit database at") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := os.Stat(filepath.Dir(missing)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the missing file's directory was created: %v", err)
	}

	old := filepath.Join(dir, "old.db")
	db, err := openDBWith(ctx, old, "audit", func(name string) bool { return strings.HasSuffix(name, "/001_init.sql") })
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := OpenAuditExisting(ctx, old); err == nil || !strings.Contains(err.Error(), "lacks migration 002_fewer_btrees.sql") {
		t.Errorf("a log at migration 001: %v", err)
	}
	db, err = openDBWith(ctx, old, "audit", func(name string) bool { return strings.HasSuffix(name, "/001_init.sql") })
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != 1 {
		t.Errorf("migrations recorded after the read-only open: %d, %v; want 1", n, err)
	}

	current := filepath.Join(dir, "audit.db")
	openAudit(t, current).Close()
	s, err := OpenAuditExisting(ctx, current)
	if err != nil {
		t.Fatalf("a current log: %v", err)
	}
	s.Close()
}

// Reading an evidence copy leaves it as it was: not converted to WAL, its
// -wal file not folded in.
func TestOpenAuditExisting_LeavesACopyAsItIs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.db")
	s := openAudit(t, path)
	l, err := audit.New(audit.Config{Store: s, ChainID: "main"})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := l.Record(ctx, audit.Event{Type: audit.TypeRunStarted}); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	// A copy taken while the server ran: the database and its -wal file.
	copyDir := t.TempDir()
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(copyDir, "audit.db"+suffix), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	snapshot := func() map[string]string {
		out := map[string]string{}
		for _, suffix := range []string{"", "-wal"} {
			b, err := os.ReadFile(filepath.Join(copyDir, "audit.db"+suffix))
			if err != nil {
				t.Fatalf("%s: %v", suffix, err)
			}
			out[suffix] = string(b)
		}
		return out
	}
	before := snapshot()
	r, err := OpenAuditExisting(ctx, filepath.Join(copyDir, "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := audit.Verify(ctx, r, audit.VerifyOptions{})
	if err != nil || !res.OK || res.Events != 5 {
		t.Errorf("Verify = %+v, %v; want ok, 5 events", res, err)
	}
	r.Close()
	if after := snapshot(); !reflect.DeepEqual(before, after) {
		t.Error("reading the copy changed its files")
	}
}

func TestCallStoreConformance(t *testing.T) {
	storetest.TestCallStore(t, func(t *testing.T) passthrough.CallStore {
		s, err := OpenSessions(context.Background(), filepath.Join(t.TempDir(), "sessions.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestApprovalStoreConformance(t *testing.T) {
	storetest.TestApprovalStore(t, func(t *testing.T) approval.Store {
		s, err := OpenSessions(context.Background(), filepath.Join(t.TempDir(), "sessions.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestRateCounterConformance(t *testing.T) {
	storetest.TestRateCounter(t, func(t *testing.T) storetest.RateCounter {
		s, err := OpenSessions(context.Background(), filepath.Join(t.TempDir(), "sessions.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestResponseStoreConformance(t *testing.T) {
	storetest.TestResponseStore(t, func(t *testing.T) session.ResponseStore {
		s, err := OpenSessions(context.Background(), filepath.Join(t.TempDir(), "sessions.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestVaultConformance(t *testing.T) {
	storetest.TestVault(t, func(t *testing.T) dlp.Vault {
		s, err := OpenSessions(context.Background(), filepath.Join(t.TempDir(), "sessions.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
