package postgres

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/session"
	"github.com/gatehousehq/gatehouse/internal/store/storetest"
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
