package jwtauth

import (
	"sync"
	"testing"
	"time"
)

// fakeClock is a Config's Now and After whose time moves only when the test
// advances it: key age, the refetch rate limit and the background refresh
// are tested without waiting for time to pass.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	step    time.Duration // each reading of Now moves the time on by step
	waiters []clockWaiter // After channels not yet due
}

type clockWaiter struct {
	at time.Time
	ch chan time.Time
}

// newFakeClock starts at the real time, so tokens signed with claimsFor at
// time.Now() are valid on it too.
func newFakeClock() *fakeClock { return &fakeClock{now: time.Now()} }

// use sets cfg's clock to c.
func (c *fakeClock) use(cfg Config) Config {
	cfg.Now, cfg.After = c.Now, c.After
	return cfg
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.step > 0 {
		c.advanceLocked(c.step)
	}
	return c.now
}

// setStep makes every later reading of Now move the time on by d (0: the
// time stands still until advanced): time passes between any two requests.
func (c *fakeClock) setStep(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.step = d
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, clockWaiter{at: c.now.Add(d), ch: ch})
	return ch
}

// advance moves the time on by d and wakes the waiters now due.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advanceLocked(d)
}

func (c *fakeClock) advanceLocked(d time.Duration) {
	c.now = c.now.Add(d)
	waiting := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			waiting = append(waiting, w)
			continue
		}
		w.ch <- c.now
	}
	c.waiters = waiting
}

// waitForSleepers waits until n callers wait on the clock: a key set's
// background refresh registers its wait only once its last round (fetch
// included) is over, so this is also how a test knows that round ended.
func (c *fakeClock) waitForSleepers(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		got := len(c.waiters)
		c.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d waiting on the clock after 5s, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}
