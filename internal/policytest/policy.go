// Package policytest tests a config's tool policy as code and measures the
// impact of changing it. A suite of cases (a principal, a tool, arguments,
// the verdict expected) is decided by the gate that serves requests
// (gate.Gate.Decide, through the explain door: it decides and runs
// nothing), built from the config the way serving builds it; a diff
// compares two policies cell by cell and decides the tool calls recorded
// in the audit log again under the new one. Nothing here implements a rule
// of its own.
package policytest

import (
	"context"
	"encoding/json"
	"time"

	"github.com/gatehousehq/gatehouse/internal/gate"
	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/principal"
	"github.com/gatehousehq/gatehouse/internal/tools"
)

// Policy is a built config's tool policy: its gate and the tools it judges
// (app.LoadPolicy builds one from a file, as serving does).
type Policy struct {
	Gate  *gate.Gate
	Tools map[string]*gate.Tool
}

// Offered reports whether the tool is offered to p: p holds its
// permission and it is not disabled, as every door lists tools.
func (pol Policy) Offered(p *principal.Principal, tool string) bool {
	t, ok := gate.Callable(pol.Gate.Perms, p, pol.Tools)[tool]
	return ok && tools.DisabledReason(t.Impl) == ""
}

// Decide is the gate's verdict on one call by p at now; args is the call's
// arguments as a model sends them (a JSON object).
func (pol Policy) Decide(ctx context.Context, p *principal.Principal, tool, args string, now time.Time) gate.Decision {
	g := *pol.Gate
	g.Now = func() time.Time { return now }
	return g.Decide(ctx, gate.Input{
		Door: gate.DoorExplain, Principal: p,
		Declared: pol.Tools, Offered: gate.Callable(g.Perms, p, pol.Tools),
		Call: llm.ToolCall{ID: "policy", Name: tool, Arguments: args},
	})
}

// argsJSON is a case's arguments as a model would send them.
func argsJSON(args map[string]any) (string, error) {
	if args == nil {
		return "{}", nil
	}
	b, err := json.Marshal(args)
	return string(b), err
}
