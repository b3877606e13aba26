package main

import (
	"context"
	"slices"
	"sync"
	"time"
)

// maxSamples bounds the latencies kept per segment.
const maxSamples = 2_000_000

// sample is one segment's outcome.
type sample struct {
	lat      []time.Duration // successful runs only
	runs     int             // finished runs, ok or not
	errs     int
	firstErr string
	elapsed  time.Duration
}

func (s *sample) add(o sample) {
	s.lat = append(s.lat, o.lat...)
	s.runs += o.runs
	s.errs += o.errs
	s.elapsed += o.elapsed
	if s.firstErr == "" {
		s.firstErr = o.firstErr
	}
}

func (s *sample) record(d time.Duration, err error) {
	s.runs++
	if err != nil {
		s.errs++
		if s.firstErr == "" {
			s.firstErr = err.Error()
		}
		return
	}
	if len(s.lat) < maxSamples {
		s.lat = append(s.lat, d)
	}
}

// rate is finished runs per second of the segment, errors excluded.
func (s *sample) rate() float64 {
	if s.elapsed <= 0 {
		return 0
	}
	return float64(s.runs-s.errs) / s.elapsed.Seconds()
}

// quantiles returns p50, p90, p99 and max of the successful runs.
func (s *sample) quantiles() (p50, p90, p99, mx time.Duration) {
	if len(s.lat) == 0 {
		return
	}
	l := slices.Clone(s.lat)
	slices.Sort(l)
	at := func(q float64) time.Duration { return l[min(len(l)-1, int(q*float64(len(l))))] }
	return at(0.50), at(0.90), at(0.99), l[len(l)-1]
}

// runFunc makes one run (or request) and checks its answer. It returns
// the moment its latency ends: zero for when it returns, else an earlier
// mark (the streaming scenarios' first content byte).
type runFunc func(context.Context) (time.Time, error)

// latency is from start to the run's mark, or to now without one.
func latency(start, mark time.Time) time.Duration {
	if mark.IsZero() {
		return time.Since(start)
	}
	return mark.Sub(start)
}

// closedLoop runs conns workers back to back for d (and no more than
// maxSamples runs in all).
func closedLoop(ctx context.Context, conns int, d time.Duration, run runFunc) sample {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	per := make([]sample, conns)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range per {
		wg.Go(func() {
			s := &per[i]
			for ctx.Err() == nil && s.runs < maxSamples/conns {
				t0 := time.Now()
				mark, err := run(context.WithoutCancel(ctx))
				s.record(latency(t0, mark), err)
			}
		})
	}
	wg.Wait()
	var out sample
	for _, s := range per {
		out.add(s)
	}
	out.elapsed = time.Since(start)
	return out
}

// openLoop starts runs at a fixed rate for d, each at its intended time
// whether or not earlier runs finished (up to maxInflight at once), and
// measures each run's latency from its intended start, so a stall is
// charged to every run it delayed (no coordinated omission).
func openLoop(ctx context.Context, rate float64, d time.Duration, maxInflight int, run runFunc) sample {
	total := int(rate * d.Seconds())
	interval := time.Duration(float64(time.Second) / rate)
	sem := make(chan struct{}, maxInflight)
	var (
		mu  sync.Mutex
		out sample
		wg  sync.WaitGroup
	)
	start := time.Now()
	for i := 0; i < total && ctx.Err() == nil; i++ {
		intended := start.Add(time.Duration(i) * interval)
		if w := time.Until(intended); w > 0 {
			time.Sleep(w)
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			mark, err := run(ctx)
			lat := latency(intended, mark)
			mu.Lock()
			out.record(lat, err)
			mu.Unlock()
		})
	}
	wg.Wait()
	// The segment lasts its schedule, or longer if the last runs were late.
	out.elapsed = max(time.Since(start), d)
	return out
}
