package postgres

import (
	"context"
	"github.com/gatehousehq/gatehouse/internal/approval"
	"github.com/gatehousehq/gatehouse/internal/dlp"
	"github.com/gatehousehq/gatehouse/internal/passthrough"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/session"
	"github.com/gatehousehq/gatehouse/internal/store/storetest"
	"github.com/jackc/pgx/v5"
)

func openAudit(t testing.TB, dsn string) *AuditStore {
	t.Helper()
	s, err := OpenAudit(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestAuditStoreConformance(t *testing.T) {
	storetest.RequirePostgres(t)
	storetest.TestAuditStore(t, func(t *testing.T) audit.Store { return openAudit(t, storetest.PostgresDSN(t)) })
}

func TestAuditTreeConformance(t *testing.T) {
	storetest.RequirePostgres(t)
	storetest.TestAuditTree(t, func(t *testing.T) audit.Store { return openAudit(t, storetest.PostgresDSN(t)) })
}

func TestAuditTamper(t *testing.T) {
	storetest.RequirePostgres(t)
	storetest.TestAuditTamper(t, func(t *testing.T) (audit.Store, storetest.Exec) {
		s := openAudit(t, storetest.PostgresDSN(t))
		return s, func(t *testing.T, q string, args ...any) {
			t.Helper()
			if _, err := s.pool.Exec(context.Background(), q, args...); err != nil {
				t.Fatalf("tamper %q: %v", q, err)
			}
		}
	})
}

func TestSessionStoreConformance(t *testing.T) {
	storetest.RequirePostgres(t)
	storetest.TestSessionStore(t, func(t *testing.T) session.Store {
		s, err := OpenSessions(context.Background(), storetest.PostgresDSN(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// Starting against a server nobody listens for fails within the bound.
func TestOpenUnreachableFailsFast(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // a closed loopback port
	start := time.Now()
	_, err = OpenAudit(context.Background(), "postgres://postgres@"+addr+"/test?sslmode=disable")
	if err == nil {
		t.Fatal("OpenAudit of an unreachable server succeeded")
	}
	if took := time.Since(start); took > DefaultConnectTimeout+time.Second {
		t.Errorf("OpenAudit took %v", took)
	}
}

// When the server goes away, Record fails closed within the commit bound.
func TestRecordFailsClosedWhenServerUnreachable(t *testing.T) {
	viaProxy, p := storetest.StartProxy(t, storetest.PostgresDSN(t))
	storetest.RecordFailsClosed(t, openAudit(t, viaProxy), "the server gone", func(*testing.T) { p.Cut() })
}

// With several writers a smaller id can commit after a larger one. A
// follower reading "id > last seen" skipped it; tail --follow must print
// both, once each.
func TestTailFollowDoesNotSkipALateCommit(t *testing.T) {
	storetest.RequirePostgres(t)
	ctx := context.Background()
	s := openAudit(t, storetest.PostgresDSN(t))
	insert := func(tx pgx.Tx, subject string) {
		t.Helper()
		if _, err := tx.Exec(ctx, `INSERT INTO audit_events (chain_id, seq, time_ns, type, subject, decision, prev_hash, hash, body)
			VALUES ($1, 1, 0, 'tool.decided', $1, 'allow', '', '', $2)`, subject,
			`{"v":1,"chain_id":"`+subject+`","seq":1,"time":"2026-11-28T00:00:00Z","prev_hash":"","type":"tool.decided","subject":"`+subject+`","decision":"allow"}`); err != nil {
			t.Fatal(err)
		}
	}
	out := &storetest.SyncBuffer{}
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- audit.WriteTail(fctx, out, s, audit.TailOptions{Lines: 5, Follow: true, JSON: true, Poll: 10 * time.Millisecond})
	}()
	waitFor := func(what string, ok func(string) bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !ok(out.String()); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s; tail printed:\n%s", what, out.String())
			}
		}
	}
	time.Sleep(50 * time.Millisecond) // the follower has taken its start cursor

	late, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer late.Rollback(ctx)
	insert(late, "late") // takes the smaller id, commits last
	early, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	insert(early, "early")
	if err := early.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // several polls while "late" is open
	if err := late.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor("both events printed", func(s string) bool {
		return strings.Contains(s, `"subject":"late"`) && strings.Contains(s, `"subject":"early"`)
	})
	time.Sleep(50 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := out.String(); strings.Count(got, "\n") != 2 || strings.Index(got, `"late"`) > strings.Index(got, `"early"`) {
		t.Errorf("tail printed:\n%s\nwant late (smaller id, older transaction) then early, once each", got)
	}
}

// Closing the store after the server stopped answering (with a write that
// gave up meanwhile) returns within CloseTimeout, not pgx's 15 s.
func TestCloseIsBoundedWhenServerStopsAnswering(t *testing.T) {
	viaProxy, p := storetest.StartProxy(t, storetest.PostgresDSN(t))
	s, err := OpenAudit(context.Background(), viaProxy)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := p.Freeze(); err != nil {
		t.Fatal(err)
	}
	// A write in flight when the server froze gives up at its deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := s.Append(ctx, []audit.Sealed{{Event: audit.Event{ChainID: "c", Seq: 1, Type: audit.TypeToolDecided, Time: time.Now()}, Canonical: []byte("{}")}}); err == nil {
		t.Fatal("append to a frozen server succeeded")
	}
	start := time.Now()
	s.Close()
	if d := time.Since(start); d > CloseTimeout+time.Second {
		t.Fatalf("close took %s with a server that stopped answering (bound %s)", d, CloseTimeout)
	}
}

// The audit log's commits are durable whatever the connection asked for:
// synchronous_commit=off from the DSN (or role, or database) is turned on.
func TestAuditCommitsWaitForTheFlush(t *testing.T) {
	storetest.RequirePostgres(t)
	dsn := storetest.PostgresDSN(t)
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	s := openAudit(t, dsn+sep+"options=-c%20synchronous_commit%3Doff")
	for range 3 { // three connections held at once: three separate ones
		c, err := s.pool.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Release()
		var v string
		if err := c.QueryRow(context.Background(), `SHOW synchronous_commit`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		if v != "on" {
			t.Fatalf("synchronous_commit = %q on an audit pool connection; want on", v)
		}
	}
	// The DSN's option does reach the server: sessions keep it.
	ss, err := OpenSessions(context.Background(), dsn+sep+"options=-c%20synchronous_commit%3Doff")
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	var v string
	if err := ss.pool.QueryRow(context.Background(), `SHOW synchronous_commit`).Scan(&v); err != nil || v != "off" {
		t.Errorf("sessions pool synchronous_commit = %q, %v; want the DSN's off (the test's premise)", v, err)
	}
}

// The audit commands read a log without migrating it: a database without
// one is an error (not a new empty log), and a read-only session can read.
func TestOpenAuditExisting_ReadOnly(t *testing.T) {
	storetest.RequirePostgres(t)
	ctx := context.Background()
	dsn := storetest.PostgresDSN(t)
	if _, err := OpenAuditExisting(ctx, dsn); err == nil || !strings.Contains(err.Error(), "not a gatehouse audit database") {
		t.Fatalf("empty schema: %v", err)
	}
	var tables int
	probe, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close(ctx)
	if err := probe.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()`).Scan(&tables); err != nil || tables != 0 {
		t.Fatalf("tables after the failed open: %d, %v; want none", tables, err)
	}
	openAudit(t, dsn).Close() // a gatehouse made it
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	s, err := OpenAuditExisting(ctx, dsn+sep+"options=-c%20default_transaction_read_only%3Don")
	if err != nil {
		t.Fatalf("read-only session: %v", err)
	}
	defer s.Close()
	res, err := audit.Verify(ctx, s, audit.VerifyOptions{})
	if err != nil || !res.OK {
		t.Errorf("Verify = %+v, %v", res, err)
	}
}

// A start whose migrations wait for a table lock gives up after
// MigrationLockTimeout rather than queueing (with every replica's audit
// writes behind it) until the lock holder is done.
func TestMigrationGivesUpOnAHeldLock(t *testing.T) {
	storetest.RequirePostgres(t)
	ctx := context.Background()
	dsn := storetest.PostgresDSN(t)
	openAudit(t, dsn).Close()
	holder, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(ctx)
	tx, err := holder.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `LOCK TABLE schema_migrations IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	old := MigrationLockTimeout
	MigrationLockTimeout = 300 * time.Millisecond
	defer func() { MigrationLockTimeout = old }()
	start := time.Now()
	s, err := OpenAudit(ctx, dsn)
	if err == nil {
		s.Close()
		t.Fatal("opened while the migrations table was locked")
	}
	if d := time.Since(start); d > 3*time.Second || !strings.Contains(err.Error(), "lock timeout") {
		t.Errorf("gave up after %v with %v; want a lock timeout within the bound", d, err)
	}
}

func TestCallStoreConformance(t *testing.T) {
	storetest.RequirePostgres(t)
	storetest.TestCallStore(t, func(t *testing.T) passthrough.CallStore {
		s, err := OpenSessions(context.Background(), storetest.PostgresDSN(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestApprovalStoreConformance(t *testing.T) {
	storetest.RequirePostgres(t)
	storetest.TestApprovalStore(t, func(t *testing.T) approval.Store {
		s, err := OpenSessions(context.Background(), storetest.PostgresDSN(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestRateCounterConformance(t *testing.T) {
	storetest.RequirePostgres(t)
	storetest.TestRateCounter(t, func(t *testing.T) storetest.RateCounter {
		s, err := OpenSessions(context.Background(), storetest.PostgresDSN(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestResponseStoreConformance(t *testing.T) {
	storetest.RequirePostgres(t)
	storetest.TestResponseStore(t, func(t *testing.T) session.ResponseStore {
		s, err := OpenSessions(context.Background(), storetest.PostgresDSN(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestVaultConformance(t *testing.T) {
	storetest.RequirePostgres(t)
	storetest.TestVault(t, func(t *testing.T) dlp.Vault {
		s, err := OpenSessions(context.Background(), storetest.PostgresDSN(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
