package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/session"
	"github.com/gatehousehq/gatehouse/internal/store/storetest"
)

// testDSN returns a DSN for a fresh schema of the server named by
// GATEHOUSE_TEST_POSTGRES, dropped when the test ends.
func testDSN(t testing.TB) string {
	t.Helper()
	base := requirePostgres(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to GATEHOUSE_TEST_POSTGRES: %v", err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
		conn.Close(ctx)
	})
	return withParam(t, base, "search_path", schema)
}

// requirePostgres returns GATEHOUSE_TEST_POSTGRES, or skips the test.
func requirePostgres(t testing.TB) string {
	t.Helper()
	base := os.Getenv("GATEHOUSE_TEST_POSTGRES")
	if base == "" {
		t.Skip("GATEHOUSE_TEST_POSTGRES not set: PostgreSQL tests skipped")
	}
	return base
}

// withParam adds a connection parameter to a URL or keyword/value DSN.
func withParam(t testing.TB, dsn, key, value string) string {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set(key, value)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " " + key + "=" + value
}

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
	requirePostgres(t)
	storetest.TestAuditStore(t, func(t *testing.T) audit.Store { return openAudit(t, testDSN(t)) })
}

func TestAuditTamper(t *testing.T) {
	requirePostgres(t)
	storetest.TestAuditTamper(t, func(t *testing.T) (audit.Store, storetest.Exec) {
		s := openAudit(t, testDSN(t))
		return s, func(t *testing.T, q string, args ...any) {
			t.Helper()
			if _, err := s.pool.Exec(context.Background(), q, args...); err != nil {
				t.Fatalf("tamper %q: %v", q, err)
			}
		}
	})
}

func TestSessionStoreConformance(t *testing.T) {
	requirePostgres(t)
	storetest.TestSessionStore(t, func(t *testing.T) session.Store {
		s, err := OpenSessions(context.Background(), testDSN(t))
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

// proxy forwards loopback TCP to target until cut, which drops every
// connection and stops listening: the server has become unreachable.
type proxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { io.Copy(u, c); u.Close() }()
			go func() { io.Copy(c, u); c.Close() }()
		}
	}()
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) cut() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

// When the server goes away, Record fails closed within the commit bound.
func TestRecordFailsClosedWhenServerUnreachable(t *testing.T) {
	dsn := testDSN(t)
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		t.Fatalf("this test needs a URL DSN with a host, got %q", dsn)
	}
	p := startProxy(t, u.Host)
	u.Host = p.ln.Addr().String()
	s := openAudit(t, u.String())
	ctx := context.Background()
	const bound = 1500 * time.Millisecond
	l, err := audit.New(audit.Config{Store: s, ChainID: "c1", CommitTimeout: bound})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Record(ctx, audit.Event{Type: audit.TypeRunStarted}); err != nil {
		t.Fatal(err)
	}
	p.cut()
	start := time.Now()
	err = l.Record(ctx, audit.Event{Type: audit.TypeToolDecided, Decision: audit.Allow, Resource: "policy_update"})
	took := time.Since(start)
	if !errors.Is(err, audit.ErrUnavailable) {
		t.Fatalf("Record with the server gone = %v, want ErrUnavailable", err)
	}
	if took > bound+500*time.Millisecond {
		t.Errorf("Record took %v, bound is %v", took, bound)
	}
	if err := l.Ready(ctx); !errors.Is(err, audit.ErrUnavailable) {
		t.Errorf("Ready with the server gone = %v, want ErrUnavailable", err)
	}
	t.Logf("failed closed after %v: %v", took, err)
}
