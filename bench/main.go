// Command bench is gatehouse's load harness. It starts a fast scripted
// OpenAI-compatible upstream, one gatehouse process per scenario (this same
// binary re-executed in gateway mode, so the gateway's RSS and CPU are read
// from its own /proc entry), and drives them alternately in open loop (fixed
// rate, latency from the intended send time) and closed loop (N connections),
// next to the floor D: the same two upstream calls made directly. It prints
// one table, the ratios between scenarios and PASS/MISS per target.
//
//	go run ./bench                     # full run, ~5 minutes on 2 cores
//	go run ./bench -quick              # ~40 s smoke run
//	go run ./bench -profile /tmp/prof  # also pprof profiles of G and GP at 300 runs/s
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
)

// options are the harness's flags.
type options struct {
	rounds      int
	segment     time.Duration // one measured open- or closed-loop segment
	warmup      time.Duration
	soak        time.Duration // G at saturation, for RSS growth
	rate        float64
	conns       int
	delay       time.Duration // upstream's fixed delay per call
	scenarios   []string
	pgDSN       string
	profileDir  string // pprof CPU and allocation profiles of G and GP at the open-loop rate
	portkeyDir  string // bench/portkey, found from the working directory when empty
	maxInflight int
	sharesDir   string   // -shares: print the shares of existing profiles only
	gwEnv       []string // KEY=VALUE added to every gatehouse child's environment (runtime experiments: GOMAXPROCS, GOGC, GODEBUG)
}

func defaultOptions() options {
	return options{
		rounds: 2, segment: 6 * time.Second, warmup: 2 * time.Second, soak: 60 * time.Second,
		rate: 300, conns: 32, maxInflight: 2000,
		scenarios: defaultScenarios,
		pgDSN:     "postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
	}
}

func main() {
	if os.Getenv(childEnv) != "" {
		if err := gatewayMain(os.Getenv); err != nil {
			fmt.Fprintln(os.Stderr, "bench gateway:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	o := defaultOptions()
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quick := fs.Bool("quick", false, "smoke run (~30 s): 1 round of 2 s segments, 6 s soak")
	fs.IntVar(&o.rounds, "rounds", o.rounds, "alternating rounds over all scenarios")
	fs.DurationVar(&o.segment, "duration", o.segment, "length of each measured segment (per scenario, mode and round)")
	fs.DurationVar(&o.warmup, "warmup", o.warmup, "unmeasured closed-loop warm-up per scenario")
	fs.DurationVar(&o.soak, "soak", o.soak, "G at saturation to watch RSS growth (0 = skip)")
	fs.Float64Var(&o.rate, "rate", o.rate, "open-loop rate, runs/s")
	fs.IntVar(&o.conns, "conns", o.conns, "closed-loop connections")
	fs.DurationVar(&o.delay, "delay", o.delay, "fixed upstream delay per model call")
	list := fs.String("scenarios", strings.Join(o.scenarios, ","), "scenarios to run (all: "+strings.Join(allScenarios, ",")+")")
	fs.StringVar(&o.pgDSN, "pg", o.pgDSN, "PostgreSQL for G-pg (a scratch database is created and dropped); empty skips it")
	fs.StringVar(&o.profileDir, "profile", "", "after the rounds, profile the G and GP gateways in open loop and write cpu-NAME.pprof and allocs-NAME(-before).pprof to this directory")
	fs.StringVar(&o.portkeyDir, "portkey-dir", "", "the directory holding serve.mjs and the pinned package-lock.json (default bench/portkey)")
	fs.StringVar(&o.sharesDir, "shares", "", "print the CPU shares of the cpu-NAME.pprof profiles a -profile run wrote to this directory, and exit")
	gwEnv := fs.String("gw-env", "", "comma-separated KEY=VALUE for every gatehouse child's environment, e.g. GOMAXPROCS=1,GOGC=200 (the harness's own process keeps its own)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if *quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["rounds"] {
			o.rounds = 1
		}
		if !set["duration"] {
			o.segment = 2 * time.Second
		}
		if !set["warmup"] {
			o.warmup = 500 * time.Millisecond
		}
		if !set["soak"] {
			o.soak = 6 * time.Second
		}
	}
	for _, kv := range strings.Split(*gwEnv, ",") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return o, fmt.Errorf("-gw-env: %q is not KEY=VALUE", kv)
		}
		o.gwEnv = append(o.gwEnv, kv)
	}
	o.scenarios = nil
	for _, s := range strings.Split(*list, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !known(s) {
			return o, fmt.Errorf("unknown scenario %q (have %s)", s, strings.Join(allScenarios, ","))
		}
		o.scenarios = append(o.scenarios, s)
	}
	if o.profileDir != "" && !slices.ContainsFunc(profiled, func(s string) bool { return slices.Contains(o.scenarios, s) }) {
		return o, fmt.Errorf("-profile needs one of the scenarios %s", strings.Join(profiled, ", "))
	}
	if o.rounds < 1 || o.segment <= 0 || o.rate <= 0 || o.conns < 1 {
		return o, fmt.Errorf("rounds, duration, rate and conns must be positive")
	}
	return o, nil
}

// run is the harness: set up, measure, print.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if o.sharesDir != "" {
		printShares(stdout, o.sharesDir, profiled)
		return nil
	}
	env, err := setup(ctx, o, stderr)
	if err != nil {
		return err
	}
	defer env.close()
	res := measure(ctx, o, env, stderr)
	report(stdout, o, env, res)
	return ctx.Err()
}
