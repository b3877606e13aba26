package gate

import (
	"context"
	"errors"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/authz"
	"github.com/gatehousehq/gatehouse/internal/dlp"
	"github.com/gatehousehq/gatehouse/internal/principal"
	"github.com/gatehousehq/gatehouse/internal/tools"
)

// Scope is the data protection scope of a call made in base's run: its
// caller, and its session or, without one, its run.
func Scope(p *principal.Principal, base audit.Event) dlp.Scope {
	id := base.SessionID
	if id == "" {
		id = base.RunID
	}
	return dlp.Scope{Owner: p.Key(), ID: id}
}

// FoundEvents record findings: their type, where, the action and a keyed
// hash — never the value.
func FoundEvents(base audit.Event, found []dlp.Found) []audit.Event {
	evs := make([]audit.Event, len(found))
	for i, f := range found {
		ev := base
		ev.Type, ev.Resource, ev.Outcome = audit.TypeDataFound, "data:"+f.Type, string(f.Action)
		ev.Rule = "data_protection.actions." + f.Type
		ev.Reason = "found in " + f.Where + "; keyed hash " + f.Hash
		ev.Content = nil
		if f.Action == dlp.Block {
			ev.Decision = audit.Deny
		}
		evs[i] = ev
	}
	return evs
}

// withFindings puts the findings of the call's arguments where conditions
// and approval rules read them (authz.WithFindings).
func (g *Gate) withFindings(ctx context.Context, raw string) context.Context {
	if g.Data == nil {
		return ctx
	}
	fs := g.Data.Findings(raw)
	if len(fs) == 0 && authz.FindingsFrom(ctx) == nil {
		return ctx // none to carry, and none carried from before
	}
	out := make([]authz.Finding, len(fs))
	for i, f := range fs {
		out[i] = authz.Finding{Type: f.Type, Path: f.Path}
	}
	return authz.WithFindings(ctx, out)
}

// errTokenRefused is what the model is told of a call whose arguments hold
// a token that is not this caller's in this session.
var errTokenRefused = errors.New("the arguments hold a token not issued to this caller in this session; pass tokens exactly as given")

// detokenize gives the tool the values behind the tokens in its
// arguments, after the gate decided on the tokens.
func (x *Executor) detokenize(ctx context.Context, r Run) (tools.Args, error) {
	if x.Data == nil {
		return r.Decision.Args, nil
	}
	args, err := x.Data.DetokenizeArgs(ctx, Scope(r.Principal, r.Base), r.Decision.Args)
	if err != nil {
		return nil, err
	}
	return args, nil
}

// protect is a tool's result or error as the model may see it; a result
// data protection blocks becomes a refusal saying why.
func (x *Executor) protect(ctx context.Context, r Run, text string) (string, []dlp.Found, error) {
	if x.Data == nil {
		return text, nil, nil
	}
	return x.Data.Protect(ctx, Scope(r.Principal, r.Base), "result of tool "+r.Decision.Call.Name, text)
}
