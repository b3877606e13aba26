package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/audit"
)

// RecordFailsClosed checks that an audit log over s refuses, within its
// commit bound, to record once outage has left the store unable to commit:
// Record and Ready report audit.ErrUnavailable. what names the outage in
// messages ("the file locked"). It returns the log, closed when the test
// ends, for a backend's checks after the outage.
func RecordFailsClosed(t *testing.T, s audit.Store, what string, outage func(t *testing.T)) *audit.Log {
	t.Helper()
	ctx := context.Background()
	const bound = 1500 * time.Millisecond
	l, err := audit.New(audit.Config{Store: s, ChainID: "c1", CommitTimeout: bound})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if err := l.Record(ctx, audit.Event{Type: audit.TypeRunStarted}); err != nil {
		t.Fatal(err)
	}
	outage(t)
	start := time.Now()
	err = l.Record(ctx, audit.Event{Type: audit.TypeToolDecided, Decision: audit.Allow, Resource: "policy_update"})
	took := time.Since(start)
	if !errors.Is(err, audit.ErrUnavailable) {
		t.Fatalf("Record with %s = %v, want ErrUnavailable", what, err)
	}
	if took > bound+500*time.Millisecond {
		t.Errorf("Record took %v, bound is %v", took, bound)
	}
	if err := l.Ready(ctx); !errors.Is(err, audit.ErrUnavailable) {
		t.Errorf("Ready with %s = %v, want ErrUnavailable", what, err)
	}
	t.Logf("failed closed after %v: %v", took, err)
	return l
}
