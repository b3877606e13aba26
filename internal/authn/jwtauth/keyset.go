package jwtauth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// errRateLimited: a refetch for an unknown kid was due but one happened
// less than MinRefreshInterval ago.
var errRateLimited = errors.New("key refetch rate limited")

// remoteKeySet caches an issuer's keys. Like go-oidc's RemoteKeySet it
// refetches on an unknown kid with one fetch in flight and keeps the last
// good keys when the issuer is down; in addition refetches are rate limited,
// fetches are bounded in time and size, and keys are refreshed in the
// background when they reach their maximum age.
type remoteKeySet struct {
	fetch      func(ctx context.Context, prev *keySnapshot) (*keySnapshot, error)
	timeout    time.Duration
	minRefresh time.Duration
	maxAge     time.Duration
	clock      func() time.Time                     // for the keys' age and the refetch rate limit
	after      func(time.Duration) <-chan time.Time // waits on clock's time (background refresh)
	base       context.Context                      // cancelled by Close; parent of every fetch
	wg         *sync.WaitGroup

	snap atomic.Pointer[keySnapshot]

	mu          sync.Mutex
	inflight    *fetchCall
	lastAttempt time.Time
	fetchedAt   time.Time
	lastErr     error
}

type fetchCall struct {
	done chan struct{}
	err  error
}

// static returns a key set that never fetches.
func staticKeySet(snap *keySnapshot) *remoteKeySet {
	ks := &remoteKeySet{}
	ks.snap.Store(snap)
	return ks
}

// current returns the keys in use, nil before the first successful fetch.
func (ks *remoteKeySet) current() *keySnapshot { return ks.snap.Load() }

// keysFor returns the snapshot after making sure kid has been looked for:
// when kid is unknown it joins or starts a refetch, unless the last one was
// less than minRefresh ago.
func (ks *remoteKeySet) keysFor(ctx context.Context, kid string) (*keySnapshot, error) {
	snap := ks.current()
	if snap != nil && (kid == "" || snap.byKid[kid] != nil) {
		return snap, nil
	}
	if ks.fetch == nil {
		return snap, nil
	}
	call, err := ks.refresh(false)
	if err != nil {
		return ks.current(), err
	}
	select {
	case <-call.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for keys: %w", ctx.Err())
	}
	return ks.current(), call.err
}

// refresh joins the fetch in flight or starts one. Unless force is set, a new
// fetch starts only when the last attempt is at least minRefresh old.
func (ks *remoteKeySet) refresh(force bool) (*fetchCall, error) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.inflight != nil {
		return ks.inflight, nil
	}
	now := ks.clock()
	if !force && !ks.lastAttempt.IsZero() && now.Sub(ks.lastAttempt) < ks.minRefresh {
		return nil, errRateLimited
	}
	if ks.base.Err() != nil {
		return nil, fmt.Errorf("refresh keys: %w", ks.base.Err())
	}
	ks.lastAttempt = now
	call := &fetchCall{done: make(chan struct{})}
	ks.inflight = call
	ks.wg.Add(1)
	go func() {
		defer ks.wg.Done()
		ctx, cancel := context.WithTimeout(ks.base, ks.timeout)
		defer cancel()
		snap, err := ks.fetch(ctx, ks.current())
		ks.mu.Lock()
		if err == nil {
			ks.snap.Store(snap)
			ks.fetchedAt = ks.clock()
		}
		ks.lastErr = err
		call.err = err
		ks.inflight = nil
		ks.mu.Unlock()
		close(call.done)
	}()
	return call, nil
}

// nextRefresh says how long the background loop sleeps: until the keys
// reach maxAge, or minRefresh after a failed attempt.
func (ks *remoteKeySet) nextRefresh() time.Duration {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.lastErr != nil || ks.fetchedAt.IsZero() {
		return max(ks.minRefresh-ks.clock().Sub(ks.lastAttempt), 0)
	}
	return max(ks.maxAge-ks.clock().Sub(ks.fetchedAt), 0)
}

// run refreshes the keys at maxAge until the base context ends. The caller
// has added it to wg.
func (ks *remoteKeySet) run(report func(error)) {
	defer ks.wg.Done()
	wait := ks.nextRefresh()
	for {
		select {
		case <-ks.base.Done():
			return
		case <-ks.after(wait):
		}
		if call, err := ks.refresh(false); err == nil {
			select {
			case <-call.done:
				if call.err != nil {
					report(call.err)
				}
			case <-ks.base.Done():
				return
			}
		}
		// A failure retries after minRefresh, never in a tight loop.
		wait = max(ks.nextRefresh(), ks.minRefresh/10, time.Millisecond)
	}
}

// status reports the key set's state for readiness checks.
func (ks *remoteKeySet) status() (keys int, fetchedAt time.Time, lastErr error) {
	if snap := ks.current(); snap != nil {
		keys = len(snap.all)
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return keys, ks.fetchedAt, ks.lastErr
}

// observed is fetch, reporting each fetch of issuer's keys to obs (when set).
func observed(fetch func(context.Context, *keySnapshot) (*keySnapshot, error), issuer string, obs RefreshObserver) func(context.Context, *keySnapshot) (*keySnapshot, error) {
	if obs == nil {
		return fetch
	}
	return func(ctx context.Context, prev *keySnapshot) (*keySnapshot, error) {
		snap, err := fetch(ctx, prev)
		obs.KeysRefreshed(issuer, err)
		return snap, err
	}
}
