package storetest

import (
	"context"
	"slices"
	"sync"
	"testing"
)

// RateCounter is the shared rate limit contract (httpapi.RateCounter).
type RateCounter interface {
	CountRequest(ctx context.Context, key string, window int64) (int64, error)
}

// TestRateCounter runs the shared rate limit contract against counters
// from open: counts are per key and window, and concurrent counts of one
// key (as from several replicas) each get their own number.
func TestRateCounter(t *testing.T, open func(t *testing.T) RateCounter) {
	ctx := context.Background()
	t.Run("CountsPerKeyAndWindow", func(t *testing.T) {
		c := open(t)
		for i, step := range []struct {
			key    string
			window int64
			want   int64
		}{
			{"a", 60, 1}, {"a", 60, 2}, {"b", 60, 1}, {"a", 60, 3}, {"a", 120, 1}, {"b", 120, 1}, {"a", 120, 2},
		} {
			n, err := c.CountRequest(ctx, step.key, step.window)
			if err != nil || n != step.want {
				t.Fatalf("step %d: CountRequest(%s, %d) = %d, %v; want %d", i, step.key, step.window, n, err, step.want)
			}
		}
	})
	t.Run("ConcurrentCountsAreDistinct", func(t *testing.T) {
		c := open(t)
		const n = 40
		got := make([]int64, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				v, err := c.CountRequest(ctx, "k", 600)
				if err != nil {
					t.Error(err)
				}
				got[i] = v
			})
		}
		wg.Wait()
		slices.Sort(got)
		for i, v := range got {
			if v != int64(i+1) {
				t.Fatalf("concurrent counts = %v, want 1..%d each once", got, n)
			}
		}
	})
	t.Run("OldWindowsAreForgotten", func(t *testing.T) {
		c := open(t)
		for _, w := range []int64{60, 120, 180, 240} {
			if _, err := c.CountRequest(ctx, "k", w); err != nil {
				t.Fatal(err)
			}
		}
		// A window two minutes back was deleted when 240 began: counting
		// in it again starts from one.
		if n, err := c.CountRequest(ctx, "k", 60); err != nil || n != 1 {
			t.Errorf("CountRequest in a pruned window = %d, %v; want 1", n, err)
		}
	})
}
