package main

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

const mib = 1 << 20

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

// report prints the table, the ratios and the targets.
func report(w io.Writer, o options, e *env, res *results) {
	fmt.Fprintf(w, "gatehouse load harness: %d CPU(s), %s, %d round(s) of %s segments, open loop %.0f runs/s, closed loop %d conns, upstream delay %s, total %s\n",
		runtime.NumCPU(), runtime.Version(), o.rounds, o.segment, o.rate, o.conns, o.delay, res.elapsed.Round(time.Second))
	fmt.Fprintln(w, "Each gateway is its own process (this binary re-executed); gw CPU and RSS are read from its /proc entry.")
	fmt.Fprintln(w, "gen CPU is the harness process: load generator plus the fake upstream, which every scenario shares.")
	fmt.Fprintln(w, "A run is one agent run for D and G* (two model calls and one tool call), one request for D1, Portkey and GP*, and one streamed")
	fmt.Fprintln(w, "answer for *-stream, whose latency ends at the first content byte. Open-loop latency counts from the intended send time.")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tmode\truns\truns/s\tp50 ms\tp90 ms\tp99 ms\tmax ms\terrors\tgw CPU %\tgw CPU ms/run\tgen CPU %\tgw RSS MiB\tgw peak MiB\t")
	for _, t := range e.targets {
		if t.run == nil {
			fmt.Fprintf(tw, "%s\tskipped\t\t\t\t\t\t\t\t\t\t\t\t\t\n", t.name)
			continue
		}
		for _, mode := range []string{modeOpen, modeClosed} {
			r := res.get(t.name, mode)
			if r == nil {
				continue
			}
			p50, p90, p99, mx := r.s.quantiles()
			sec := r.s.elapsed.Seconds()
			gwCPU, perRun, rss, peak := "-", "-", "-", "-"
			if t.gw != nil {
				gwCPU = fmt.Sprintf("%.0f", 100*r.gwCPU.Seconds()/sec)
				perRun = fmt.Sprintf("%.3f", cpuPerRun(r))
				rss = fmt.Sprintf("%.1f", float64(r.rss)/mib)
				peak = fmt.Sprintf("%.1f", float64(res.hwm[t.name])/mib)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%.0f\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%.0f\t%s\t%s\t\n",
				t.name, mode, r.s.runs, r.s.rate(), ms(p50), ms(p90), ms(p99), ms(mx), r.s.errs,
				gwCPU, perRun, 100*r.genCPU.Seconds()/sec, rss, peak)
		}
	}
	tw.Flush()
	if s := res.soak; s != nil {
		first, last := s.growth()
		p50, _, p99, _ := s.s.quantiles()
		fmt.Fprintf(w, "\nsoak G closed %s: %d runs, %.0f runs/s, p50 %s ms, p99 %s ms, %d errors; RSS first quarter %.1f MiB, last quarter %.1f MiB\n",
			o.soak, s.s.runs, s.s.rate(), ms(p50), ms(p99), s.s.errs, float64(first)/mib, float64(last)/mib)
	}
	for _, t := range e.targets {
		if t.note != "" {
			fmt.Fprintf(w, "%s skipped: %s\n", t.name, t.note)
		}
		for _, mode := range []string{modeOpen, modeClosed} {
			if r := res.get(t.name, mode); r != nil && r.s.firstErr != "" {
				fmt.Fprintf(w, "first error %s %s: %s\n", t.name, mode, r.s.firstErr)
			}
		}
	}
	fmt.Fprintln(w, "\ngateway CPU per run, at the open-loop rate (steady) and in closed loop (saturation):")
	for _, t := range e.targets {
		o, c := res.get(t.name, modeOpen), res.get(t.name, modeClosed)
		if t.gw == nil || o == nil || c == nil || c.s.runs == 0 || o.s.runs == 0 {
			continue
		}
		fmt.Fprintf(w, "  %-16s %.3f ms at %.0f/s (kernel %2.0f%%, %5.1f switches/run), %.3f ms at %.0f/s (kernel %2.0f%%, %5.1f switches/run): steady costs %.1fx\n",
			t.name, cpuPerRun(o), o.s.rate(), sysShare(o), switchesPerRun(o), cpuPerRun(c), c.s.rate(), sysShare(c), switchesPerRun(c), cpuPerRun(o)/max(cpuPerRun(c), 1e-9))
	}
	fmt.Fprintln(w, "\nratios (closed-loop runs/s):")
	for _, rt := range [][2]string{{scGP, scPortkey}, {scGR, scPortkey}, {scGP, scD1}, {scGPMem, scD1}, {scGPBare, scD1}, {scGPMem, scGPBare}, {scPortkey, scD1}, {scGP, scGPMem}, {scGP, scGPNoAudit}, {scGP, scGPFileLog}, {scG, scGMem}, {scGMem, scD}, {scGBare, scD}, {scGMem, scGBare}, {scG, scD}, {scG, scNoAudit}, {scFileLog, scNoAudit}, {scG, scFileLog}, {scJWT, scG}, {scJWTNoCache, scG}, {scPG, scG}, {scPG, scNoAudit}} {
		if a, b := res.get(rt[0], modeClosed), res.get(rt[1], modeClosed); a != nil && b != nil && b.s.rate() > 0 {
			fmt.Fprintf(w, "  %-14s / %-10s = %.2f\n", rt[0], rt[1], a.s.rate()/b.s.rate())
		}
	}
	if res.allocErr != "" {
		fmt.Fprintf(w, "allocations: %s\n", res.allocErr)
	}
	if res.profileErr != "" {
		fmt.Fprintf(w, "profile: %s\n", res.profileErr)
	} else if o.profileDir != "" {
		fmt.Fprintf(w, "\nprofiles of %s at %.0f runs/s in %s: go tool pprof -top %s/cpu-G.pprof; go tool pprof -sample_index=alloc_space -base %s/allocs-G-before.pprof -top %s/allocs-G.pprof (the others likewise)\n",
			strings.Join(profiled, ", "), o.rate, o.profileDir, o.profileDir, o.profileDir, o.profileDir)
		fmt.Fprintln(w, "where each gateway's CPU goes at that rate, by share of its profile's samples:")
		printShares(w, o.profileDir, profiled)
	}
	fmt.Fprintln(w, "\ntargets:")
	for _, c := range checks(res) {
		fmt.Fprintf(w, "  %-4s %s\n", c.verdict, c.text)
	}
	fmt.Fprintln(w, "\nscenarios:")
	for _, t := range e.targets {
		fmt.Fprintf(w, "  %-14s %s\n", t.name, descriptions[t.name])
	}
}

type check struct{ verdict, text string }

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

// cpuPerRun is the gateway's CPU per run in ms.
func cpuPerRun(r *row) float64 {
	return 1000 * r.gwCPU.Seconds() / float64(max(1, r.s.runs))
}

// sysShare is the kernel's share of the gateway's CPU, in percent.
func sysShare(r *row) float64 {
	return 100 * r.gwSys.Seconds() / max(r.gwCPU.Seconds(), 1e-9)
}

// switchesPerRun are the gateway's context switches per run.
func switchesPerRun(r *row) float64 {
	return float64(r.gwVol+r.gwInvol) / float64(max(1, r.s.runs))
}

// checks are the targets, each with the figures it was judged on.
func checks(res *results) []check {
	var out []check
	add := func(ok bool, format string, a ...any) {
		out = append(out, check{verdict(ok), fmt.Sprintf(format, a...)})
	}
	na := func(what string) { out = append(out, check{"n/a", what + ": scenario not measured"}) }
	// excess compares a's open-loop latency with its floor's.
	excess := func(a, floor string, what string, p50max, p99max time.Duration) {
		ra, rf := res.get(a, modeOpen), res.get(floor, modeOpen)
		if ra == nil || rf == nil || len(ra.s.lat) == 0 || len(rf.s.lat) == 0 {
			na(what)
			return
		}
		a50, _, a99, _ := ra.s.quantiles()
		f50, _, f99, _ := rf.s.quantiles()
		add(a50-f50 <= p50max, "%s: %s adds %s ms at p50 over %s (%s vs %s; target <= %s)", what, a, ms(a50-f50), floor, ms(a50), ms(f50), ms(p50max))
		if p99max > 0 {
			add(a99-f99 <= p99max, "%s: %s adds %s ms at p99 over %s (%s vs %s; target <= %s)", what, a, ms(a99-f99), floor, ms(a99), ms(f99), ms(p99max))
		}
	}
	// ratio compares closed-loop throughputs.
	ratio := func(a, b string, want float64, what string) {
		ra, rb := res.get(a, modeClosed), res.get(b, modeClosed)
		if ra == nil || rb == nil || rb.s.rate() == 0 {
			na(what)
			return
		}
		x := ra.s.rate() / rb.s.rate()
		add(x >= want, "%s: %s/%s = %.2f (%.0f vs %.0f per s; target >= %.2f)", what, a, b, x, ra.s.rate(), rb.s.rate(), want)
	}
	// cpuAt judges a scenario's gateway CPU per run at the open-loop rate.
	cpuAt := func(a string, maxMS float64, what string) {
		r := res.get(a, modeOpen)
		if r == nil || r.s.runs == 0 {
			na(what)
			return
		}
		add(cpuPerRun(r) <= maxMS, "%s: %s %.3f ms at %.0f/s (target <= %.2f)", what, a, cpuPerRun(r), r.s.rate(), maxMS)
	}
	// cpuVsPeer compares a's CPU per request at the open-loop rate with
	// the peer's.
	cpuVsPeer := func(a string, want float64) {
		ra, pk := res.get(a, modeOpen), res.get(scPortkey, modeOpen)
		if ra == nil || pk == nil || pk.gwCPU == 0 {
			na("peer: CPU per request of " + a)
			return
		}
		x := cpuPerRun(ra) / cpuPerRun(pk)
		add(x <= want, "peer: CPU per request at the open-loop rate: %s/Portkey = %.2f (%.3f vs %.3f ms; target <= %.2f)", a, x, cpuPerRun(ra), cpuPerRun(pk), want)
	}
	// 1. The durable cost at its floor: the real log against the same
	// log over the bare preallocated file, in the same run.
	ratio(scG, scFileLog, 0.95, "durable cost: SQLite audit log vs the bare durable file")
	excess(scGP, scGPFileLog, "durable cost: pass-through over its file-log floor", 150*time.Microsecond, 0)
	excess(scGStream, scGStreamFL, "durable cost: streaming first byte over its file-log floor", 150*time.Microsecond, 0)
	// 2. The gateway's own work, with nothing durable left.
	excess(scGPMem, scD1, "own work: pass-through, nothing durable, at 300/s", 250*time.Microsecond, 0)
	cpuAt(scGPMem, 0.35, "own work: gateway CPU per pass-through request, nothing durable")
	excess(scGMem, scD, "own work: agent run, nothing durable, at 300/s", 500*time.Microsecond, 0)
	cpuAt(scGMem, 0.6, "own work: gateway CPU per agent run, nothing durable")
	for _, a := range res.allocs {
		add(a.perOp <= a.max, "own work: allocations per request in BenchmarkWholeRun/%s: %d (%.1f kB; target <= %d, half of %d)", a.name, a.perOp, float64(a.bytes)/1000, a.max, 2*a.max)
	}
	if len(res.allocs) == 0 {
		na("allocations per request (BenchmarkWholeRun)")
	}
	// 3. Against the peer, and 4. the Responses API held to GP's targets.
	for _, p := range []string{scGP, scGR} {
		ratio(p, scPortkey, 3, "peer: closed-loop requests/s")
		cpuVsPeer(p, 0.5)
	}
	excess(scGR, scGPFileLog, "durable cost: Responses pass-through over GP's file-log floor", 150*time.Microsecond, 0)
	errs, where := 0, []string{}
	for _, r := range res.rows {
		if r.s.errs > 0 {
			errs += r.s.errs
			where = append(where, r.scenario+"/"+r.mode)
		}
	}
	slices.Sort(where)
	add(errs == 0, "zero errors: %d %s", errs, strings.Join(where, " "))
	if res.get(scJWT, modeClosed) != nil {
		ratio(scJWT, scG, 0.95, "JWT (cached) vs API key")
	}
	var peak int64
	var peakOf string
	for name, hwm := range res.hwm {
		if name != scPortkey && hwm > peak {
			peak, peakOf = hwm, name
		}
	}
	if peakOf != "" {
		pk := ""
		if hwm, ok := res.hwm[scPortkey]; ok {
			pk = fmt.Sprintf("; Portkey %.1f MiB", float64(hwm)/mib)
		}
		add(peak <= 100*mib, "peak RSS of any gatehouse gateway: %.1f MiB (%s; target <= 100)%s", float64(peak)/mib, peakOf, pk)
	}
	if s := res.soak; s != nil && len(s.rss) > 0 {
		first, last := s.growth()
		ok := last-first <= max(2*mib, first/20)
		add(ok, "no RSS growth over the %d s soak of G: %+.1f MiB first to last quarter (allowed max(2 MiB, 5%%))", len(s.rss), float64(last-first)/mib)
	} else {
		na("RSS growth (soak)")
	}
	return out
}
