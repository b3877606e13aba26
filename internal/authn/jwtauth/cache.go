package jwtauth

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/gatehousehq/gatehouse/internal/principal"
)

// tokenCache remembers verified tokens by their SHA-256 (the token itself is
// never kept), each until the token's exp and never past it. A hit is a map
// lookup, a clock check and a check that the signing key is still published;
// a key dropped from the issuer's JWKS ends its tokens' entries.
//
// It is bounded: when full, expired entries are swept and, if that is not
// enough, arbitrary entries are evicted, an eighth of the capacity at a time,
// so the sweep cost is amortised over many inserts.
type tokenCache struct {
	size int

	mu      sync.RWMutex
	entries map[[sha256.Size]byte]cacheEntry
}

type cacheEntry struct {
	p   *principal.Principal
	exp time.Time
	iss *issuer
	key *publicKey
}

func newTokenCache(size int) *tokenCache {
	if size <= 0 {
		return nil
	}
	return &tokenCache{size: size, entries: make(map[[sha256.Size]byte]cacheEntry, size)}
}

func (c *tokenCache) get(sum *[sha256.Size]byte, now time.Time) (*principal.Principal, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.RLock()
	e, ok := c.entries[*sum]
	c.mu.RUnlock()
	if !ok || !now.Before(e.exp) || !e.iss.keys.current().has(e.key) {
		return nil, false
	}
	return e.p, true
}

func (c *tokenCache) put(sum *[sha256.Size]byte, e cacheEntry, now time.Time) {
	if c == nil || !now.Before(e.exp) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.size {
		c.evictLocked(now)
	}
	c.entries[*sum] = e
}

func (c *tokenCache) evictLocked(now time.Time) {
	target := max(c.size/8, 1)
	removed := 0
	for k, e := range c.entries {
		if !now.Before(e.exp) {
			delete(c.entries, k)
			removed++
		}
	}
	for k := range c.entries {
		if removed >= target {
			return
		}
		delete(c.entries, k)
		removed++
	}
}

func (c *tokenCache) len() int {
	if c == nil {
		return 0
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
