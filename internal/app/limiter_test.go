package app

import (
	"testing"

	"github.com/gatehousehq/gatehouse/internal/config"
)

// A reload that is built and then refused (a new rate) must not cost the
// live settings their limiter: going back to them finds the same one.
func TestLimiterCacheKeepsTheLiveLimiterAcrossARefusedReload(t *testing.T) {
	var c limiterCache
	live := config.RateLimit{RequestsPerMinute: 60, Burst: 5}
	l1 := c.get(live)
	if c.get(live) != l1 {
		t.Fatal("same settings, another limiter")
	}
	if c.get(config.RateLimit{RequestsPerMinute: 600, Burst: 50}) == l1 {
		t.Fatal("new settings share the old limiter")
	}
	if c.get(live) != l1 {
		t.Fatal("the live settings lost their limiter to a reload that did not go live")
	}
	for i := range maxCachedLimiters {
		c.get(config.RateLimit{RequestsPerMinute: 1000 + i, Burst: 1})
	}
	if len(c.entries) != maxCachedLimiters || c.get(live) == l1 {
		t.Fatalf("cache holds %d settings; the oldest should have been dropped", len(c.entries))
	}
}
