package main

import (
	"context"
	"fmt"
	"io"
	"time"
)

const (
	modeOpen   = "open"
	modeClosed = "closed"
)

// row is one scenario in one mode, summed over rounds.
type row struct {
	scenario, mode string
	s              sample
	gwCPU, genCPU  time.Duration
	gwSys          time.Duration // the kernel's share of gwCPU
	// gwVol and gwInvol are the gateway's voluntary and involuntary
	// context switches over the row's segments.
	gwVol, gwInvol int64
	rss            int64 // gateway RSS at the end of its last segment
}

// soakResult is G at saturation for a long segment, RSS sampled each second.
type soakResult struct {
	s   sample
	rss []int64
}

// results are everything measured.
type results struct {
	rows       map[[2]string]*row
	hwm        map[string]int64 // each gateway's peak RSS over the whole run
	soak       *soakResult
	allocs     []allocResult // BenchmarkWholeRun's G and GP, rerun here
	allocErr   string
	profileErr string
	elapsed    time.Duration
}

func (r *results) get(scenario, mode string) *row { return r.rows[[2]string{scenario, mode}] }

// measure warms every scenario up, then alternates them over rounds, open
// loop first, then closed loop, rotating the order each round; last, G soaks.
func measure(ctx context.Context, o options, e *env, progress io.Writer) *results {
	start := time.Now()
	res := &results{rows: map[[2]string]*row{}, hwm: map[string]int64{}}
	var live []*target
	for _, t := range e.targets {
		if t.run != nil {
			live = append(live, t)
		}
	}
	for _, t := range live {
		if ctx.Err() != nil {
			return res
		}
		fmt.Fprintf(progress, "warm-up %s\n", t.name)
		if openOnly[t.name] {
			openLoop(ctx, o.rate, o.warmup, o.maxInflight, t.run)
			continue
		}
		closedLoop(ctx, o.conns, o.warmup, t.run)
	}
	for round := range o.rounds {
		for _, mode := range []string{modeOpen, modeClosed} {
			for i := range live {
				t := live[(i+round)%len(live)]
				if ctx.Err() != nil {
					return res
				}
				if mode == modeClosed && openOnly[t.name] {
					continue
				}
				fmt.Fprintf(progress, "round %d/%d %-6s %s\n", round+1, o.rounds, mode, t.name)
				segment(ctx, o, t, mode, res)
			}
		}
	}
	if t := e.target(scG); t != nil && t.gw != nil && o.soak > 0 && ctx.Err() == nil {
		fmt.Fprintf(progress, "soak %s %s at saturation\n", scG, o.soak)
		res.soak = soak(ctx, o, t)
	}
	if ctx.Err() == nil {
		fmt.Fprintf(progress, "allocations per request (BenchmarkWholeRun in this process)\n")
		var err error
		if res.allocs, err = wholeRunAllocs(e); err != nil {
			res.allocErr = err.Error()
		}
	}
	for _, name := range profiled {
		if t := e.target(name); o.profileDir != "" && t != nil && ctx.Err() == nil && res.profileErr == "" {
			if err := profile(ctx, o, name, t, o.profileDir, progress); err != nil {
				res.profileErr = err.Error()
			}
		}
	}
	for _, t := range live {
		if t.gw != nil {
			_, res.hwm[t.name], _ = procMem(t.gw.pid)
		}
	}
	res.elapsed = time.Since(start)
	return res
}

// segment runs one measured segment and adds it to its row.
func segment(ctx context.Context, o options, t *target, mode string, res *results) {
	key := [2]string{t.name, mode}
	r := res.rows[key]
	if r == nil {
		r = &row{scenario: t.name, mode: mode}
		res.rows[key] = r
	}
	var u0, s0 time.Duration
	var v0, i0 int64
	if t.gw != nil {
		u0, s0, _ = procTimes(t.gw.pid)
		v0, i0 = procSwitches(t.gw.pid)
	}
	self0 := selfCPU()
	var s sample
	if mode == modeOpen {
		s = openLoop(ctx, o.rate, o.segment, o.maxInflight, t.run)
	} else {
		s = closedLoop(ctx, o.conns, o.segment, t.run)
	}
	r.genCPU += selfCPU() - self0
	if t.gw != nil {
		u1, s1, _ := procTimes(t.gw.pid)
		v1, i1 := procSwitches(t.gw.pid)
		r.gwCPU += u1 + s1 - u0 - s0
		r.gwSys += s1 - s0
		r.gwVol += v1 - v0
		r.gwInvol += i1 - i0
		r.rss, _, _ = procMem(t.gw.pid)
	}
	r.s.add(s)
}

// soak drives G at saturation, sampling the gateway's RSS every second.
func soak(ctx context.Context, o options, t *target) *soakResult {
	out := &soakResult{}
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if rss, _, err := procMem(t.gw.pid); err == nil {
					out.rss = append(out.rss, rss)
				}
			}
		}
	}()
	out.s = closedLoop(ctx, o.conns, o.soak, t.run)
	close(done)
	<-sampled
	return out
}

// growth compares the soak's mean RSS over its last quarter with its first.
func (s *soakResult) growth() (first, last int64) {
	n := len(s.rss)
	if n == 0 {
		return 0, 0
	}
	q := max(1, n/4)
	mean := func(xs []int64) int64 {
		var sum int64
		for _, x := range xs {
			sum += x
		}
		return sum / int64(len(xs))
	}
	return mean(s.rss[:q]), mean(s.rss[n-q:])
}
