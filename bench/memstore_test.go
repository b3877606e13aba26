package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/gatehousehq/gatehouse/internal/passthrough"
	"github.com/gatehousehq/gatehouse/internal/session"
	"github.com/gatehousehq/gatehouse/internal/store/sqlite"
	"github.com/gatehousehq/gatehouse/internal/store/storetest"
)

// openMem is G-mem's store over a fresh SQLite session store.
func openMem(t *testing.T) *memSessions {
	s, err := sqlite.OpenSessions(context.Background(), filepath.Join(t.TempDir(), "sessions.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return wrapInMemory(s).(*memSessions)
}

// The -mem scenarios measure gatehouse with this store: it must keep the
// contract the real stores keep, or the scenario measures something else.
func TestMemSessions_KeepsTheSessionStoreContract(t *testing.T) {
	storetest.TestSessionStore(t, func(t *testing.T) session.Store { return openMem(t) })
}

func TestMemSessions_KeepsTheReleasedCallContract(t *testing.T) {
	storetest.TestCallStore(t, func(t *testing.T) passthrough.CallStore { return openMem(t) })
}

// The -mem scenarios run for minutes: the store keeps the newest sessions
// only, so the gateway's memory does not grow with its runs.
func TestMemSessions_KeepsTheNewestOnly(t *testing.T) {
	m := openMem(t)
	ctx := context.Background()
	var first, last string
	for i := range 3 * memKeep {
		s := &session.Session{Subject: "s"}
		if err := m.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = s.ID
		}
		last = s.ID
	}
	if n := len(m.sessions); n > 2*memKeep {
		t.Errorf("%d sessions kept, want at most %d", n, 2*memKeep)
	}
	if _, err := m.Get(ctx, first, "s"); err == nil {
		t.Error("the first session is still kept")
	}
	if _, err := m.Get(ctx, last, "s"); err != nil {
		t.Errorf("the newest session: %v", err)
	}
}
