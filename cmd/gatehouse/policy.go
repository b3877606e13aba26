package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"time"

	"github.com/gatehousehq/gatehouse/internal/app"
	"github.com/gatehousehq/gatehouse/internal/policytest"
)

// exitError carries a process exit status other than 1.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// exitStatus is the process exit status for run's error.
func exitStatus(err error) int {
	var ee *exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	}
	return 1
}

// notLoaded is exit status 2: the config or a suite does not load, as
// against 1, a case failed.
func notLoaded(err error) error { return &exitError{code: 2, err: err} }

// runPolicy serves `gatehouse policy test|diff`.
func runPolicy(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "test":
			return runPolicyTest(ctx, args[1:], getenv, stdout, stderr)
		case "diff":
			return runPolicyDiff(ctx, args[1:], getenv, stdout, stderr)
		}
	}
	fmt.Fprintln(stderr, "usage: gatehouse policy test [--config FILE] [--junit FILE] [--min-coverage PCT] [--run REGEXP] SUITE...\n       "+policyDiffUsage)
	return notLoaded(errUsage)
}

// parseInterleaved parses fs over args whose flags may follow positional
// arguments, returning the positional ones.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func runPolicyTest(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("policy test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", getenv("GATEHOUSE_CONFIG"), "the config whose policy is tested (or GATEHOUSE_CONFIG)")
	junit := fs.String("junit", "", "write the results as JUnit XML to this file")
	minCov := fs.Float64("min-coverage", 0, "fail when coverage (percent) is below this")
	runRE := fs.String("run", "", "run only the cases whose <suite>/<case> name matches this regular expression")
	now := fs.String("now", "", "the time conditions see when a suite sets none (RFC 3339; default: now)")
	suites, err := parseInterleaved(fs, args)
	if err != nil {
		return notLoaded(errUsage)
	}
	if *cfgPath == "" || len(suites) == 0 {
		fmt.Fprintln(stderr, "usage: gatehouse policy test [--config FILE] [--junit FILE] [--min-coverage PCT] [--run REGEXP] SUITE...")
		return notLoaded(errUsage)
	}
	o := policytest.Options{Now: time.Now()}
	if *runRE != "" {
		if o.Run, err = regexp.Compile(*runRE); err != nil {
			return notLoaded(fmt.Errorf("--run: %w", err))
		}
	}
	if *now != "" {
		if o.Now, err = time.Parse(time.RFC3339, *now); err != nil {
			return notLoaded(fmt.Errorf("--now: %w", err))
		}
	}
	pol, _, err := app.LoadPolicy(ctx, *cfgPath, getenv)
	if err != nil {
		return notLoaded(fmt.Errorf("%s: invalid:\n%w", *cfgPath, err))
	}
	var loaded []*policytest.Suite
	for _, path := range suites {
		s, err := policytest.LoadSuite(path, pol)
		if err != nil {
			return notLoaded(err)
		}
		loaded = append(loaded, s)
	}
	rep, err := policytest.Run(ctx, pol, loaded, o)
	if err != nil {
		return notLoaded(err)
	}
	rep.WriteText(stdout)
	if *junit != "" {
		if err := writeJUnit(*junit, rep); err != nil {
			return notLoaded(fmt.Errorf("--junit: %w", err))
		}
	}
	switch {
	case rep.Failed() > 0:
		return fmt.Errorf("policy test: %d of %d cases failed", rep.Failed(), len(rep.Results))
	case rep.Coverage.Percent() < *minCov:
		return fmt.Errorf("policy test: coverage %.1f%% is below --min-coverage %.1f%%", rep.Coverage.Percent(), *minCov)
	}
	return nil
}

func writeJUnit(path string, rep *policytest.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := rep.WriteJUnit(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
