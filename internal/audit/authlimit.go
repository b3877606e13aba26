package audit

import (
	"context"
	"sync"
	"time"
)

// RecordAuthFailure records an authentication failure (Type defaults to
// auth.failed) within a token-bucket bound, so a flood of bad credentials
// cannot crowd out the events of real work. Over the bound the failure is
// only counted, and returns nil: the request is refused anyway. The counts
// are recorded as auth.suppressed events every SummaryInterval.
func (l *Log) RecordAuthFailure(ctx context.Context, e Event) error {
	if e.Type == "" {
		e.Type = TypeAuthFailed
	}
	if !l.limiter.allow(l.cfg.Now()) {
		return nil
	}
	return l.Record(ctx, e)
}

// authLimiter is a token bucket that counts what it refuses.
type authLimiter struct {
	mu      sync.Mutex
	rate    float64
	burst   float64
	tokens  float64
	last    time.Time
	dropped int64
}

func (a *authLimiter) init(rate float64, burst int, now time.Time) {
	a.rate, a.burst, a.tokens, a.last = rate, float64(burst), float64(burst), now
}

func (a *authLimiter) allow(now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if d := now.Sub(a.last); d > 0 {
		a.tokens = min(a.burst, a.tokens+d.Seconds()*a.rate)
		a.last = now
	}
	if a.tokens >= 1 {
		a.tokens--
		return true
	}
	a.dropped++
	return false
}

func (a *authLimiter) takeDropped() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := a.dropped
	a.dropped = 0
	return n
}

func (a *authLimiter) addDropped(n int64) {
	a.mu.Lock()
	a.dropped += n
	a.mu.Unlock()
}

func (a *authLimiter) pending() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.dropped
}
