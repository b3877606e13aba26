package main

import (
	"fmt"
	"io"
	"runtime"
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
	fmt.Fprintln(w, "Latency is per run (the whole agent run: two model calls and one tool call); open-loop latency counts from the intended send time.")
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
				perRun = fmt.Sprintf("%.3f", float64(r.gwCPU.Milliseconds())/float64(max(1, r.s.runs)))
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
	fmt.Fprintln(w, "\nratios (closed-loop runs/s):")
	for _, rt := range [][2]string{{scG, scD}, {scG, scNoAudit}, {scFileLog, scNoAudit}, {scG, scFileLog}, {scJWT, scG}, {scJWTNoCache, scG}, {scPG, scG}, {scPG, scNoAudit}} {
		if a, b := res.get(rt[0], modeClosed), res.get(rt[1], modeClosed); a != nil && b != nil && b.s.rate() > 0 {
			fmt.Fprintf(w, "  %-14s / %-10s = %.2f\n", rt[0], rt[1], a.s.rate()/b.s.rate())
		}
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

// checks are the targets, each with the figures it was judged on.
func checks(res *results) []check {
	var out []check
	na := func(what string) { out = append(out, check{"n/a", what + ": scenario not measured"}) }
	d, g := res.get(scD, modeOpen), res.get(scG, modeOpen)
	if d != nil && g != nil {
		d50, _, d99, _ := d.s.quantiles()
		g50, _, g99, _ := g.s.quantiles()
		a50, a99 := g50-d50, g99-d99
		out = append(out,
			check{verdict(a50 <= 1500*time.Microsecond), fmt.Sprintf("open loop: G adds %s ms at p50 (target <= 1.5)", ms(a50))},
			check{verdict(a99 <= 5*time.Millisecond), fmt.Sprintf("open loop: G adds %s ms at p99 (target <= 5)", ms(a99))})
	} else {
		na("open-loop overhead")
	}
	errs, where := 0, []string{}
	for _, r := range res.rows {
		if r.s.errs > 0 {
			errs += r.s.errs
			where = append(where, r.scenario+"/"+r.mode)
		}
	}
	out = append(out, check{verdict(errs == 0), fmt.Sprintf("zero errors: %d %s", errs, strings.Join(where, " "))})
	ratio := func(a, b string, want float64, what string) {
		ra, rb := res.get(a, modeClosed), res.get(b, modeClosed)
		if ra == nil || rb == nil || rb.s.rate() == 0 {
			na(what)
			return
		}
		x := ra.s.rate() / rb.s.rate()
		out = append(out, check{verdict(x >= want), fmt.Sprintf("%s: %s/%s = %.2f (target >= %.2f)", what, a, b, x, want)})
	}
	ratio(scG, scD, 0.35, "saturation")
	ratio(scG, scNoAudit, 0.85, "audit on vs no-op sink")
	ratio(scJWT, scG, 0.95, "JWT (cached) vs API key")
	if peak, ok := res.hwm[scG]; ok {
		out = append(out, check{verdict(peak <= 100*mib), fmt.Sprintf("G peak RSS %.1f MiB (target <= 100)", float64(peak)/mib)})
	}
	if s := res.soak; s != nil && len(s.rss) > 0 {
		first, last := s.growth()
		ok := last-first <= max(2*mib, first/20)
		out = append(out, check{verdict(ok), fmt.Sprintf("no RSS growth over the %d s soak: %+.1f MiB first to last quarter (allowed max(2 MiB, 5%%))",
			len(s.rss), float64(last-first)/mib)})
	} else {
		na("RSS growth (soak)")
	}
	return out
}
