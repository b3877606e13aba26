package calltoken

import (
	"sync"
	"time"
)

// ReplayCache remembers the jti of each token a tool accepted until the
// token expires, so the same token is accepted once. It is bounded: when
// full of unexpired entries it refuses new ones (fail closed) rather than
// forget one. It is safe for concurrent use; replicas of a tool need a
// shared store instead.
type ReplayCache struct {
	max int

	mu   sync.Mutex
	seen map[string]time.Time // jti -> until; guarded by mu
}

// NewReplayCache holds at most max live jtis (default 100000 when max <= 0).
func NewReplayCache(max int) *ReplayCache {
	if max <= 0 {
		max = 100000
	}
	return &ReplayCache{max: max, seen: map[string]time.Time{}}
}

// Claim records jti until until and reports whether it was new.
func (c *ReplayCache) Claim(jti string, until, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.seen[jti]; ok && now.Before(t) {
		return false
	}
	if len(c.seen) >= c.max {
		for k, t := range c.seen {
			if !now.Before(t) {
				delete(c.seen, k)
			}
		}
		if len(c.seen) >= c.max {
			return false
		}
	}
	c.seen[jti] = until
	return true
}
