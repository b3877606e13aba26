package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/app"
	"github.com/gatehousehq/gatehouse/internal/audit"
)

// allocResult is one case of BenchmarkWholeRun as the harness runs it.
type allocResult struct {
	name         string
	perOp, bytes int64
	max          int64 // the target: half of round two's figure
}

// allocCases are the cases of BenchmarkWholeRun the harness reruns for the
// allocation targets, with round two's figures halved.
var allocCases = []struct {
	name, scenario string
	max            int64
}{
	{"G/audit=sqlite", scG, 1289 / 2},
	{"GP/audit=sqlite", scGP, 806 / 2},
}

// wholeRunAllocs runs the allocation cases of BenchmarkWholeRun in this
// process for a second each (gatehouse, its upstream client, the fake
// upstream and the request's client all count, as in the benchmark).
func wholeRunAllocs(e *env) ([]allocResult, error) {
	client := newClient(4)
	var out []allocResult
	for _, c := range allocCases {
		dir := filepath.Join(e.dir, "allocs-"+filepath.Base(c.scenario))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		base, stop, err := inProcess(gatewaySpec{dir: dir, upstream: e.upstream, apiKeyHex: e.keyHex}, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.name, err)
		}
		run := viaGateway(client, base, []string{e.key})
		if c.scenario == scGP {
			run = viaPassthrough(client, base, e.key)
		}
		var runErr error
		r := testing.Benchmark(func(b *testing.B) { runErr = loopN(b, run) })
		stop()
		if runErr != nil {
			return nil, fmt.Errorf("%s: %w", c.name, runErr)
		}
		out = append(out, allocResult{name: c.name, perOp: r.AllocsPerOp(), bytes: r.AllocedBytesPerOp(), max: c.max})
	}
	return out, nil
}

// loop is BenchmarkWholeRun's loop over one run.
func loop(b *testing.B, run runFunc) {
	if err := loopN(b, run); err != nil {
		b.Fatal(err)
	}
}

func loopN(b *testing.B, run runFunc) error {
	ctx := context.Background()
	if _, err := run(ctx); err != nil { // connections and caches warm
		return err
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := run(ctx); err != nil {
			return err
		}
	}
	return nil
}

// inProcess runs gatehouse with the spec's config in this process and
// returns its base URL and a func stopping it.
func inProcess(s gatewaySpec, sink audit.Sink) (string, func(), error) {
	cfg := filepath.Join(s.dir, "gatehouse.yaml")
	if err := os.WriteFile(cfg, []byte(s.config()), 0o600); err != nil {
		return "", nil, err
	}
	env := map[string]string{"BENCH_OPENAI_KEY": "sk-bench", "BENCH_AUDIT_KEY": auditKey}
	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, app.Options{ConfigPath: cfg, Addr: "127.0.0.1:0", Getenv: func(k string) string { return env[k] },
			Stderr: io.Discard, LogLevel: slog.LevelError, AuditSink: sink, Listening: func(base string) { listening <- base }})
	}()
	stop := func() {
		cancel()
		<-done
	}
	select {
	case base := <-listening:
		return base, stop, nil
	case err := <-done:
		cancel()
		return "", nil, fmt.Errorf("gatehouse: %v", err)
	case <-time.After(30 * time.Second):
		stop()
		return "", nil, fmt.Errorf("gatehouse did not start")
	}
}
