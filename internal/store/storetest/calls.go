package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/passthrough"
)

// TestCallStore runs the released-tool-call contract against stores from
// open, each of which must be fresh and empty.
func TestCallStore(t *testing.T, open func(t *testing.T) passthrough.CallStore) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	rel := func(id, owner string) passthrough.Released {
		return passthrough.Released{ID: id, Owner: owner, Tool: "send_email", RunID: "run_1", ArgsSHA256: "args-" + id, Time: t0}
	}
	reports := func(result string, ids ...string) []passthrough.Report {
		var out []passthrough.Report
		for _, id := range ids {
			out = append(out, passthrough.Report{ID: id, ResultSHA256: result})
		}
		return out
	}

	t.Run("LookupOnlyTheOwnersCalls", func(t *testing.T) {
		s := open(t)
		if err := s.Release(ctx, []passthrough.Released{rel("call_a", "alice"), rel("call_b", "alice"), rel("call_m", "mallory")}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Lookup(ctx, "alice", []string{"call_a", "call_m", "call_x"})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 {
			t.Fatalf("Lookup = %v, want only call_a", got)
		}
		c := got["call_a"]
		if c.Tool != "send_email" || c.RunID != "run_1" || !c.Time.Equal(t0) || c.Reported || c.Owner != "alice" ||
			c.ArgsSHA256 != "args-call_a" || c.ResultSHA256 != "" {
			t.Errorf("Lookup call_a = %+v", c)
		}
	})

	t.Run("AnIDIsReleasedOnce", func(t *testing.T) {
		s := open(t)
		if err := s.Release(ctx, []passthrough.Released{rel("call_a", "alice")}); err != nil {
			t.Fatal(err)
		}
		if err := s.Release(ctx, []passthrough.Released{rel("call_a", "mallory")}); err == nil {
			t.Fatal("releasing a taken id to another caller succeeded")
		}
		if got, _ := s.Lookup(ctx, "mallory", []string{"call_a"}); len(got) != 0 {
			t.Errorf("mallory sees %v", got)
		}
	})

	t.Run("MarkReportedOnceUnderConcurrency", func(t *testing.T) {
		s := open(t)
		if err := s.Release(ctx, []passthrough.Released{rel("call_a", "alice"), rel("call_b", "alice")}); err != nil {
			t.Fatal(err)
		}
		if m, err := s.MarkReported(ctx, "mallory", reports("r-mallory", "call_a")); err != nil || len(m) != 0 {
			t.Fatalf("MarkReported by another caller = %v, %v", m, err)
		}
		var mu sync.Mutex
		var all []string
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m, err := s.MarkReported(ctx, "alice", reports(fmt.Sprint("r-", i), "call_a", "call_b"))
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				all = append(all, m...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		slices.Sort(all)
		if !slices.Equal(all, []string{"call_a", "call_b"}) {
			t.Errorf("marked across 8 concurrent calls = %v, want each once", all)
		}
		// Each call keeps the one result it was first marked with.
		got, err := s.Lookup(ctx, "alice", []string{"call_a", "call_b"})
		if err != nil || !got["call_a"].Reported || !strings.HasPrefix(got["call_a"].ResultSHA256, "r-") {
			t.Fatalf("Lookup after MarkReported = %v, %v", got, err)
		}
		if m, err := s.MarkReported(ctx, "alice", reports("r-later", "call_a")); err != nil || len(m) != 0 {
			t.Errorf("MarkReported again = %v, %v", m, err)
		}
		again, err := s.Lookup(ctx, "alice", []string{"call_a"})
		if err != nil || again["call_a"].ResultSHA256 != got["call_a"].ResultSHA256 {
			t.Errorf("the first result %q became %v (%v)", got["call_a"].ResultSHA256, again, err)
		}
	})
}
