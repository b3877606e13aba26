package audit_test

import (
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/audit"
)

// appendOversized chains events straight into the store, as a log written
// before fields were bounded holds them: sizes[i] bytes of content each.
func appendOversized(t *testing.T, s audit.Store, sizes ...int) {
	t.Helper()
	prev := audit.GenesisHash
	for i, n := range sizes {
		e := audit.Event{
			Seq: int64(i + 1), Time: time.Now().UTC(), ChainID: "old", PrevHash: prev, Type: audit.TypeSessionDenied,
			SessionID: strings.Repeat("s", n), Subject: "alice",
		}
		h, err := audit.ComputeHash(e)
		if err != nil {
			t.Fatal(err)
		}
		e.Hash = h
		sealed, err := audit.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Append(context.Background(), sealed); err != nil {
			t.Fatal(err)
		}
		prev = h
	}
}

// A page of /admin/audit holds at most MaxPageBytes of events (at least
// one), whatever the events' sizes, and its cursor leads on to every other
// event exactly once.
func TestList_PagesAreBoundedByBytes(t *testing.T) {
	s := openStore(t)
	sizes := make([]int, 30)
	for i := range sizes {
		sizes[i] = 300 << 10
	}
	sizes[10] = 3 << 20 // one event larger than a page
	appendOversized(t, s, sizes...)

	seen := map[int64]bool{}
	q := audit.Query{Limit: audit.MaxListLimit}
	for pages := 0; ; pages++ {
		if pages > len(sizes) {
			t.Fatal("paging does not end")
		}
		p, err := audit.List(context.Background(), s, q)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(p.Events)
		if len(p.Events) == 0 || (len(p.Events) > 1 && len(b) > audit.MaxPageBytes) {
			t.Fatalf("page %d: %d events in %d bytes", pages, len(p.Events), len(b))
		}
		for _, e := range p.Events {
			if seen[e.Seq] {
				t.Fatalf("event %d listed twice", e.Seq)
			}
			seen[e.Seq] = true
		}
		if p.NextCursor == "" {
			break
		}
		q.Cursor = p.NextCursor
	}
	if len(seen) != len(sizes) {
		t.Errorf("paging listed %d of %d events", len(seen), len(sizes))
	}
}

// Verify reads the log as a stream: checking a log far larger than memory
// should hold needs no more than a few of its events at a time.
func TestVerify_OversizedEventsAreNotHeldInMemory(t *testing.T) {
	s := openStore(t)
	sizes := make([]int, 24)
	for i := range sizes {
		sizes[i] = 2 << 20 // 48 MB in all
	}
	appendOversized(t, s, sizes...)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	peak := uint64(0)
	res, err := audit.Verify(context.Background(), peakStore{s, &peak}, audit.VerifyOptions{})
	if err != nil || !res.OK || res.Events != len(sizes) {
		t.Fatalf("verify: %+v, %v", res, err)
	}
	if grown := int64(peak) - int64(before.HeapAlloc); grown > 24<<20 {
		t.Errorf("the heap grew by %d MB while verifying a 48 MB log", grown>>20)
	}
}

// peakStore records the largest live heap seen between the events Scan
// hands to Verify, after a collection: what Verify still holds.
type peakStore struct {
	audit.Store
	peak *uint64
}

func (p peakStore) Scan(ctx context.Context, since time.Time, fn func(audit.Event) error) error {
	return p.Store.Scan(ctx, since, func(e audit.Event) error {
		err := fn(e)
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		*p.peak = max(*p.peak, m.HeapAlloc)
		return err
	})
}
