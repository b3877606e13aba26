package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/config"
	"github.com/gatehousehq/gatehouse/internal/gate"
	"github.com/gatehousehq/gatehouse/internal/httpapi"
	"github.com/gatehousehq/gatehouse/internal/policytest"
	"github.com/gatehousehq/gatehouse/internal/tools"
)

// LoadPolicy builds the tool policy of the config at path as serving
// builds it (buildRuntime, as config check does: nothing is opened or
// started), for policy test and policy diff. Tools of MCP servers are
// built without their servers: their arguments are any JSON object (the
// server's schema is only known at run time), their policy is the
// config's.
func LoadPolicy(ctx context.Context, path string, getenv func(string) string) (policytest.Policy, *config.Config, error) {
	cfg, err := config.Load(path, WithSelf(getenv))
	if err != nil {
		return policytest.Policy{}, nil, err
	}
	pol, err := policyOf(ctx, cfg, getenv)
	return pol, cfg, err
}

// policyOf builds cfg's policy without opening or starting anything.
func policyOf(ctx context.Context, cfg *config.Config, getenv func(string) string) (policytest.Policy, error) {
	rt, err := buildRuntime(ctx, cfg, wiring{getenv: WithSelf(getenv), log: slog.New(slog.DiscardHandler), checkOnly: true, offlineMCP: true})
	if err != nil {
		return policytest.Policy{}, cfg.Redact(err)
	}
	if rt.Close != nil {
		rt.Close()
	}
	return policytest.Policy{Gate: &gate.Gate{Perms: rt.Perms, Now: time.Now}, Tools: rt.Tools}, nil
}

// dryRun is the policy change from running to next, with the decisions
// recorded in log since then decided again under next (POST
// /admin/reload?dry_run=true). The running policy is the runtime's own
// gate and tools.
func dryRun(ctx context.Context, running *httpapi.Runtime, next *config.Config, getenv func(string) string, log audit.Store, since time.Time) (*policytest.Diff, error) {
	pol, err := policyOf(ctx, next, getenv)
	if err != nil {
		return nil, err
	}
	d := policytest.Static(policytest.Policy{Gate: running.Gate, Tools: running.Tools}, pol)
	if d.Replay, err = policytest.ReplayLog(ctx, log, pol, since); err != nil {
		return nil, fmt.Errorf("%w: %w", audit.ErrUnavailable, err)
	}
	return d, nil
}

// offlineMCPTool stands for an MCP server's tool when no server runs: it
// cannot be called, and decodes any one JSON object (integers as int64,
// other numbers as float64, as a schema's decoder yields them).
func offlineMCPTool(name string, tc config.Tool) (tools.Tool, func([]byte) (tools.Args, error)) {
	impl := tools.NewClient(tools.Spec{Name: name, Description: tc.Description, Parameters: json.RawMessage(`{"type":"object"}`)})
	return impl, decodeAnyObject
}

func decodeAnyObject(raw []byte) (tools.Args, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, errors.New("arguments must be one JSON object")
	}
	if dec.More() {
		return nil, errors.New("arguments must be one JSON object")
	}
	return tools.Args(numbers(m).(map[string]any)), nil
}

func numbers(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = numbers(e)
		}
	case []any:
		for i, e := range v {
			v[i] = numbers(e)
		}
	case json.Number:
		if !strings.ContainsAny(string(v), ".eE") {
			if i, err := v.Int64(); err == nil {
				return i
			}
		}
		f, _ := v.Float64()
		return f
	}
	return v
}
