package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/gatehousehq/gatehouse/internal/app"
	"github.com/gatehousehq/gatehouse/internal/config"
	"github.com/gatehousehq/gatehouse/internal/policytest"
	"github.com/gatehousehq/gatehouse/internal/store"
)

const policyDiffUsage = "gatehouse policy diff --from OLD --to NEW [--since DURATION] [--config FILE] [--json]"

// defaultReplayWindow is how far back policy diff replays by default.
const defaultReplayWindow = 7 * 24 * time.Hour

// runPolicyDiff serves `gatehouse policy diff`: the cells and conditions
// that change from OLD to NEW, and the decisions recorded in the audit log
// of --config (default: GATEHOUSE_CONFIG, else OLD) decided again under NEW.
func runPolicyDiff(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("policy diff", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "the policy in force (a config file)")
	to := fs.String("to", "", "the proposed policy (a config file)")
	since := fs.Duration("since", defaultReplayWindow, "replay the decisions recorded this far back")
	cfgPath := fs.String("config", getenv("GATEHOUSE_CONFIG"), "the config whose audit log is replayed (default: --from)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil || *from == "" || *to == "" || fs.NArg() != 0 || *since <= 0 {
		fmt.Fprintln(stderr, "usage: "+policyDiffUsage)
		return notLoaded(errUsage)
	}
	oldPol, _, err := app.LoadPolicy(ctx, *from, getenv)
	if err != nil {
		return notLoaded(fmt.Errorf("--from %s: invalid:\n%w", *from, err))
	}
	newPol, _, err := app.LoadPolicy(ctx, *to, getenv)
	if err != nil {
		return notLoaded(fmt.Errorf("--to %s: invalid:\n%w", *to, err))
	}
	d := policytest.Static(oldPol, newPol)
	if *cfgPath == "" {
		*cfgPath = *from
	}
	a, err := config.LoadAudit(*cfgPath, getenv)
	if err != nil {
		return notLoaded(fmt.Errorf("--config %s: %w", *cfgPath, err))
	}
	st, err := store.OpenAuditExisting(ctx, a.DSN)
	if err != nil {
		return notLoaded(fmt.Errorf("audit log of %s: %w", *cfgPath, err))
	}
	defer st.Close()
	if d.Replay, err = policytest.ReplayLog(ctx, st, newPol, time.Now().Add(-*since)); err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(d)
	}
	d.WriteText(stdout)
	return nil
}
