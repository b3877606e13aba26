package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	pprofile "github.com/google/pprof/profile"
)

// A share is one part of a CPU profile: what the samples whose stacks it
// claims cost, as a fraction of all samples.
type share struct {
	part string
	frac float64
}

// components claim a sample when any frame of its stack matches one of
// their prefixes, in this order: JSON called by the model client counts as
// JSON, the client's own socket writes as the model client.
var components = []struct{ part, prefixes string }{
	{"JSON (decoding requests and answers, encoding events and replies)", "github.com/go-json-experiment/json encoding/json"},
	{"data protection (detectors over messages and answers)", "github.com/gatehousehq/gatehouse/internal/dlp"},
	{"the builtin tool (payments_lookup's query of the demo database)", "github.com/gatehousehq/gatehouse/internal/tools"},
	{"SQLite writes and syncs (audit log, sessions)", "modernc.org/sqlite github.com/gatehousehq/gatehouse/internal/store database/sql"},
	{"policy (the gate, roles, CEL conditions)", "cel.dev/cel-go github.com/gatehousehq/gatehouse/internal/gate github.com/gatehousehq/gatehouse/internal/authz"},
	{"authentication", "github.com/gatehousehq/gatehouse/internal/authn"},
	{"audit events (hashing and chaining before the sink)", "github.com/gatehousehq/gatehouse/internal/audit. github.com/gatehousehq/gatehouse/internal/telemetry.Sink"},
	{"model client (openai-go, net/http client, its sockets)", "github.com/openai/openai-go github.com/gatehousehq/gatehouse/internal/llm net/http.(*Transport) net/http.(*persistConn) net/http.persistConnWriter net/http.(*Client)"},
	{"logs and metrics", "log/slog github.com/prometheus github.com/gatehousehq/gatehouse/internal/metrics"},
	{"GC (background mark, sweep, scavenge)", "runtime.gcBgMarkWorker runtime.bgsweep runtime.bgscavenge"},
}

// cpuShares reads a CPU profile and splits its samples into shares: the
// components above, then what is left of a request's handling (gatehouse
// code, net/http's server and the sockets), the scheduler (stacks of the
// runtime alone: finding work, parking and waking threads) and the rest.
func cpuShares(path string) ([]share, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := pprofile.Parse(f)
	if err != nil {
		return nil, err
	}
	vi := len(p.SampleType) - 1 // cpu nanoseconds
	by := map[string]int64{}
	var total int64
	for _, s := range p.Sample {
		v := s.Value[vi]
		total += v
		by[classify(s)] += v
	}
	var out []share
	for part, v := range by {
		out = append(out, share{part, float64(v) / float64(max(total, 1))})
	}
	slices.SortFunc(out, func(a, b share) int {
		if a.frac != b.frac {
			if a.frac > b.frac {
				return -1
			}
			return 1
		}
		return strings.Compare(a.part, b.part)
	})
	return out, nil
}

// classify names the share a sample belongs to.
func classify(s *pprofile.Sample) string {
	var funcs []string // leaf first
	for _, loc := range s.Location {
		for _, l := range loc.Line {
			if l.Function != nil {
				funcs = append(funcs, l.Function.Name)
			}
		}
	}
	for _, c := range components {
		for _, fn := range funcs {
			for _, p := range strings.Fields(c.prefixes) {
				if strings.HasPrefix(fn, p) {
					return c.part
				}
			}
		}
	}
	for _, fn := range funcs {
		switch {
		case strings.HasPrefix(fn, "github.com/gatehousehq/gatehouse/"), strings.HasPrefix(fn, "main."):
			return "gatehouse's request handling (other)"
		case strings.HasPrefix(fn, "net/http."), strings.HasPrefix(fn, "net."), strings.HasPrefix(fn, "internal/poll."),
			strings.HasPrefix(fn, "syscall."), strings.HasPrefix(fn, "bufio."):
			return "HTTP server (net/http, reading and writing the client's socket)"
		}
	}
	runtimeOnly := true
	for _, fn := range funcs {
		if !strings.HasPrefix(fn, "runtime.") && !strings.HasPrefix(fn, "internal/runtime/") {
			runtimeOnly = false
			break
		}
	}
	if runtimeOnly {
		return "scheduler (finding work, parking and waking threads, timers)"
	}
	return "other"
}

// printShares writes the shares of each profiled scenario's CPU profile.
func printShares(w io.Writer, dir string, names []string) {
	for _, name := range names {
		path := fmt.Sprintf("%s/cpu-%s.pprof", dir, name)
		if _, err := os.Stat(path); err != nil {
			continue
		}
		shares, err := cpuShares(path)
		if err != nil {
			fmt.Fprintf(w, "  %s: %v\n", name, err)
			continue
		}
		fmt.Fprintf(w, "  %s:\n", name)
		for _, s := range shares {
			fmt.Fprintf(w, "    %5.1f%%  %s\n", 100*s.frac, s.part)
		}
	}
}
