package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"
)

// Limiter decides whether a caller (by principal key) may make one more
// request now, and if not, how long until it may. err is a technical
// failure (the shared store is down), never "over the limit".
type Limiter interface {
	Take(ctx context.Context, key string) (ok bool, wait time.Duration, err error)
}

var (
	_ Limiter = (*RateLimiter)(nil)
	_ Limiter = (*SharedRateLimiter)(nil)
)

// Take implements Limiter with the replica's own buckets.
func (l *RateLimiter) Take(_ context.Context, key string) (bool, time.Duration, error) {
	ok, wait := l.Allow(key)
	return ok, wait, nil
}

// RateCounter counts requests per key and window in a store every replica
// shares (the sessions store).
type RateCounter interface {
	// CountRequest counts one request of key in the window starting at
	// window (Unix seconds) and returns the window's count including it.
	CountRequest(ctx context.Context, key string, window int64) (int64, error)
}

// SharedRateLimiter limits each caller to PerMinute requests per clock
// minute across every replica counting in the same store: a fixed window,
// so unlike the per-replica bucket it has no separate burst (a caller may
// use a window's whole allowance at once).
type SharedRateLimiter struct {
	Counter   RateCounter
	PerMinute int
	// Now is the clock (default time.Now); replicas' clocks should agree
	// to well within a minute.
	Now func() time.Time
}

// errLimiterDown is a shared limiter that could not count: the request is
// refused (503), as an unlimited caller is the failure we guard against.
var errLimiterDown = errors.New("rate limit store unavailable")

// Take implements Limiter. Keys are stored hashed: the store holds no
// subject or issuer in clear for this.
func (l *SharedRateLimiter) Take(ctx context.Context, key string) (bool, time.Duration, error) {
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	t := now()
	window := t.Unix() - t.Unix()%60
	sum := sha256.Sum256([]byte(key))
	n, err := l.Counter.CountRequest(ctx, hex.EncodeToString(sum[:]), window)
	if err != nil {
		return false, 0, errors.Join(errLimiterDown, err)
	}
	if n > int64(l.PerMinute) {
		return false, time.Unix(window+60, 0).Sub(t), nil
	}
	return true, 0, nil
}
