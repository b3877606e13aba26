package httpapi

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"
)

// memCounter is a RateCounter in memory.
type memCounter struct {
	mu   sync.Mutex
	n    map[string]int64
	keys []string
	err  error
}

func (c *memCounter) CountRequest(_ context.Context, key string, window int64) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	c.keys = append(c.keys, key)
	k := key + "@" + time.Unix(window, 0).UTC().Format(time.RFC3339)
	c.n[k]++
	return c.n[k], nil
}

func TestSharedRateLimiter_LimitsPerMinuteAndSaysWhenTheWindowEnds(t *testing.T) {
	now := time.Date(2026, 12, 6, 3, 20, 40, 0, time.UTC)
	c := &memCounter{n: map[string]int64{}}
	l := &SharedRateLimiter{Counter: c, PerMinute: 2, Now: func() time.Time { return now }}
	for i, want := range []bool{true, true, false} {
		ok, wait, err := l.Take(context.Background(), "api_key||alice")
		if err != nil || ok != want {
			t.Fatalf("take %d = %v, %v; want %v", i+1, ok, err, want)
		}
		if !ok && wait != 20*time.Second {
			t.Errorf("wait = %v, want the 20 s left in the minute", wait)
		}
	}
	if ok, _, _ := l.Take(context.Background(), "api_key||bob"); !ok {
		t.Error("another caller was limited by alice's count")
	}
	now = now.Add(20 * time.Second) // the next minute
	if ok, _, _ := l.Take(context.Background(), "api_key||alice"); !ok {
		t.Error("a new minute did not start a new count")
	}
	for _, k := range c.keys {
		if len(k) != 64 {
			t.Errorf("stored key %q is not a hash", k)
		}
	}
}

func TestSharedRateLimiter_AStoreFailureRefusesWith503(t *testing.T) {
	l := &SharedRateLimiter{Counter: &memCounter{err: errors.New("connection refused")}, PerMinute: 5}
	ok, _, err := l.Take(context.Background(), "k")
	if ok || err == nil {
		t.Fatalf("Take = %v, %v; want a refusal with an error", ok, err)
	}
	if ae := toAPIError(err); ae.Status != http.StatusServiceUnavailable || ae.Code != "rate_limit_unavailable" {
		t.Errorf("maps to %d %s, want 503 rate_limit_unavailable", ae.Status, ae.Code)
	}
}
