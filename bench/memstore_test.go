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
