package httpapi

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateLimiter is a token bucket per subject.
type RateLimiter struct {
	mu      sync.Mutex
	perSec  rate.Limit
	burst   int
	buckets map[string]*rate.Limiter
}

// maxBuckets bounds memory; past it, full (idle) buckets are dropped, and
// when too few are idle, arbitrary ones down to nine tenths (each of those
// subjects starts again with a full burst: the bound on memory wins).
const maxBuckets = 100_000

// NewRateLimiter allows requestsPerMinute per subject with the given burst.
func NewRateLimiter(requestsPerMinute, burst int) *RateLimiter {
	return &RateLimiter{perSec: rate.Limit(float64(requestsPerMinute) / 60), burst: burst, buckets: map[string]*rate.Limiter{}}
}

// Allow takes a token for subject, or says how long until one is available.
func (l *RateLimiter) Allow(subject string) (bool, time.Duration) {
	l.mu.Lock()
	b, ok := l.buckets[subject]
	if !ok {
		if len(l.buckets) >= maxBuckets {
			now := time.Now()
			for k, v := range l.buckets {
				if v.TokensAt(now) >= float64(l.burst) {
					delete(l.buckets, k)
				}
			}
			for k := range l.buckets {
				if len(l.buckets) < maxBuckets*9/10 {
					break
				}
				delete(l.buckets, k)
			}
		}
		b = rate.NewLimiter(l.perSec, l.burst)
		l.buckets[subject] = b
	}
	l.mu.Unlock()
	res := b.Reserve()
	if d := res.Delay(); d > 0 {
		res.Cancel()
		return false, d
	}
	return true, 0
}
