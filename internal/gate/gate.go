// Package gate is the one rule every tool call passes, whatever door it
// came through: an agent's run, a call the pass-through would release to a
// client, /mcp tools/call, /mcp ask_<agent>'s tools, and the explain route.
// Decide returns the whole verdict — allow, deny, or hold for a person's
// approval — with the rule that decided and the audit event that records
// it; Executor runs an allowed call. A door cannot run a tool except
// through them: the door records the verdict's event, then acts on it.
package gate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/authz"
	"github.com/gatehousehq/gatehouse/internal/authz/condition"
	"github.com/gatehousehq/gatehouse/internal/dlp"
	"github.com/gatehousehq/gatehouse/internal/ids"
	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/principal"
	"github.com/gatehousehq/gatehouse/internal/tools"
)

// Tool is a tool as a door offers it: the implementation, its policy and
// the strict decoder of its arguments.
type Tool struct {
	Impl   tools.Tool
	Policy authz.ToolPolicy
	// Decode validates raw arguments against the tool's schema: exactly one
	// JSON object, no duplicate, case-variant or unknown keys, right types.
	Decode func(raw []byte) (tools.Args, error)
}

// Verdict is what the gate says of one call.
type Verdict int

// The three verdicts. The zero Verdict is Deny: a Decision nobody filled
// in never lets a call run.
const (
	Deny Verdict = iota
	Allow
	Hold
)

func (v Verdict) String() string {
	switch v {
	case Allow:
		return audit.Allow
	case Hold:
		return "approval"
	}
	return audit.Deny
}

// Gate decides tool calls. Its zero value is not usable: Perms is required.
type Gate struct {
	Perms *authz.Permissions
	// Now is the clock a held call's approval is timed by, and the now
	// conditions see (time.Now when nil).
	Now func() time.Time
	// NewApprovalID names a held call's approval (ids.New("apr_") when nil).
	NewApprovalID func() string
	// Data, when set, finds what the call's arguments hold (values, and
	// tokens standing for them) for conditions and approval rules.
	Data *dlp.Protector
}

// Input is one proposed call and what it is judged against.
type Input struct {
	Door      Door
	Principal *principal.Principal
	// Base is the event the verdict's event is made from (request, run,
	// principal).
	Base audit.Event
	// Declared names every tool that exists, for the record; Offered those
	// this door lets this caller call: the ones whose permission it holds,
	// disabled ones included (they are not shown, but a call to one is
	// refused as "tool disabled" with its reason, at every door).
	Declared, Offered map[string]*Tool
	Call              llm.ToolCall
}

// Decision is the gate's verdict on one call.
type Decision struct {
	Verdict Verdict
	Call    llm.ToolCall
	Tool    *Tool      // nil when the name is not a tool offered to the caller
	Args    tools.Args // nil unless the arguments decoded
	// Rule is the authorization decision behind the verdict (for a held
	// call: the one that allowed it before approval).
	Rule authz.Decision
	// Status is "" for an allowed call, awaiting_approval for a held one,
	// else denied | invalid_arguments.
	Status string
	// Reason is what the caller and the model are told: it may quote the
	// call's own values, which the event keeps only as content.
	Reason string
	// Event records the verdict: tool.decided (allow or deny) or
	// approval.requested (hold). It must be durable before the door acts.
	Event audit.Event
	// Held is set for a held call: the approval it waits for.
	Held *Held
	// allowed is a held call's decision before it was held.
	allowed *Decision
}

// Callable are the tools among ts that p may call through a door: those
// whose permission p holds, disabled ones included (they are not shown,
// but a call to one is refused as "tool disabled", with its reason).
func Callable(perms *authz.Permissions, p *principal.Principal, ts map[string]*Tool) map[string]*Tool {
	out := make(map[string]*Tool, len(ts))
	for name, t := range ts {
		if perms.Visible(p, t.Policy) {
			out[name] = t
		}
	}
	return out
}

// Allowed reports whether the call may run (or be released) now.
func (d Decision) Allowed() bool { return d.Verdict == Allow }

// Decide judges one call: the tool must be one offered to the caller, its
// arguments must pass the tool's strict decoder, then permission and
// condition must allow it; an allowed call whose tool's approval rule
// holds for these arguments is held. An approval condition that cannot be
// evaluated denies: nothing skips approval.
//
// Only configured names reach the event's clear fields: a name the model
// invented, and any decoder or condition message quoting the arguments, go
// to Content, which the log stores per audit.content.
func (g *Gate) Decide(ctx context.Context, in Input) Decision {
	if !in.Door.registered() {
		return g.refuse(in, nil, authz.Decision{Rule: "unregistered door", Reason: "this way in is not registered with the gate"})
	}
	d, isDeclared := in.Declared[in.Call.Name]
	t := in.Offered[in.Call.Name]
	switch {
	case !isDeclared:
		dec := g.refuse(in, nil, authz.Decision{Rule: "tool not offered", Reason: "the model asked for a tool that is not configured"})
		// A name the model made up may carry the user's words.
		dec.Event.Resource = unknownTool
		dec.Event.Content["tool"] = in.Call.Name
		dec.Reason = fmt.Sprintf("tool %s was not offered to this caller", CutName(in.Call.Name))
		return dec
	case t == nil:
		return g.refuse(in, d, authz.Decision{Rule: "tool not offered", Reason: fmt.Sprintf("tool %s was not offered to this caller", d.Policy.Tool)})
	case tools.DisabledReason(t.Impl) != "":
		dec := g.refuse(in, d, authz.Decision{Rule: "tool disabled", Reason: tools.DisabledReason(t.Impl)})
		dec.Tool = t
		return dec
	}
	args, err := decodeArgs(t, in.Call.Arguments)
	if err != nil {
		return g.invalid(in, t, err)
	}
	ctx = g.withFindings(ctx, in.Call.Arguments)
	// Conditions read the time from the gate's clock, as approvals do.
	ctx = condition.WithNow(ctx, g.now())
	dec := g.decided(in, t, args, g.Perms.AuthorizeTool(ctx, in.Principal, t.Policy, args))
	if dec.Verdict == Allow && t.Policy.Approval != nil {
		return g.approval(ctx, in, dec)
	}
	return dec
}

// decodeArgs runs the tool's strict decoder; some models send nothing for
// a tool without arguments.
func decodeArgs(t *Tool, raw string) (tools.Args, error) {
	if strings.TrimSpace(raw) == "" {
		raw = "{}"
	}
	return t.Decode([]byte(raw))
}

// event is the tool.decided event of a call, before its verdict; t is the
// declared tool, nil for a name that is none.
func event(in Input, t *Tool) audit.Event {
	ev := in.Base
	ev.Type = audit.TypeToolDecided
	ev.Resource = unknownTool
	ev.Content = map[string]string{"arguments": in.Call.Arguments}
	if t != nil {
		ev.Resource = "tool:" + t.Policy.Tool
		if c, ok := claimsContent(in.Principal, t.Policy); ok {
			ev.Content["claims"] = c
		}
	}
	return ev
}

// claimsContent is the caller's claims the tool's conditions read, as
// JSON (null for one the caller lacks), for replaying the decision. They
// are identity attributes: content, stored per audit.content like the
// arguments.
func claimsContent(p *principal.Principal, pol authz.ToolPolicy) (string, bool) {
	if p == nil || (len(pol.ClaimsRead) == 0 && !pol.AllClaims) {
		return "", false
	}
	read := p.Claims
	if !pol.AllClaims {
		read = make(map[string]any, len(pol.ClaimsRead))
		for _, name := range pol.ClaimsRead {
			read[name] = p.Claims[name]
		}
	}
	b, err := json.Marshal(read)
	if err != nil {
		return "", false
	}
	return string(b), true
}

// refuse is a denial before the arguments were looked at; t is the
// declared tool when there is one.
func (g *Gate) refuse(in Input, t *Tool, rule authz.Decision) Decision {
	dec := Decision{Call: in.Call, Event: event(in, t)}
	return dec.settle(rule, "denied")
}

// invalid is a denial by the tool's argument schema. The decoder's message
// may quote the model's keys: the caller sees it, the log keeps it as
// content and only a redacted version in clear.
func (g *Gate) invalid(in Input, t *Tool, err error) Decision {
	reason := "invalid arguments"
	var re redacter
	if errors.As(err, &re) {
		reason = re.Redacted()
	}
	dec := Decision{Call: in.Call, Tool: t, Event: event(in, t)}
	dec = dec.settle(authz.Decision{Rule: "argument schema of " + t.Policy.Tool, Reason: reason}, "invalid_arguments")
	dec.Reason = err.Error()
	dec.Event.Content["error"] = err.Error()
	return dec
}

// decided is the verdict of permission and condition over decoded args.
func (g *Gate) decided(in Input, t *Tool, args tools.Args, rule authz.Decision) Decision {
	dec := Decision{Call: in.Call, Tool: t, Args: args, Event: event(in, t)}
	return dec.settle(rule, "denied")
}

// settle fills the verdict, reason and event from rule; status is what a
// refusal is reported as.
func (d Decision) settle(rule authz.Decision, status string) Decision {
	d.Rule = rule
	d.Reason = rule.Reason
	d.Event.Rule, d.Event.Reason = rule.Rule, rule.Reason
	if rule.Detail != "" {
		// The caller and the model sent these values; the log keeps them
		// per audit.content.
		d.Reason = rule.Reason + ": " + rule.Detail
		d.Event.Content["error"] = rule.Detail
	}
	if rule.Allow {
		d.Verdict, d.Status, d.Event.Decision = Allow, "", audit.Allow
	} else {
		d.Verdict, d.Status, d.Event.Decision = Deny, status, audit.Deny
	}
	return d
}

// Refused is d turned into a refusal by rule (a check after the verdict,
// such as the re-check of an approved call).
func (d Decision) Refused(rule authz.Decision) Decision {
	d.Held = nil
	d.Event.Type, d.Event.Outcome = audit.TypeToolDecided, ""
	return d.settle(rule, "denied")
}

// unknownTool is the resource of a call to a tool that is not configured;
// the name the model gave is in the event's content.
const unknownTool = "tool:(unknown)"

// redacter is an error that can say what went wrong without quoting the
// call's own text (schema.ArgError).
type redacter interface{ Redacted() string }

// CutName is a name a model or client chose (a tool name, a call id), cut
// to a length no configured name has: a prompt injection must not write
// paragraphs into the audit log or an error.
func CutName(name string) string {
	const max = 64
	if len(name) <= max {
		return name
	}
	return strings.ToValidUTF8(name[:max], "") + "..."
}

func (g *Gate) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

func (g *Gate) approvalID() string {
	if g.NewApprovalID != nil {
		return g.NewApprovalID()
	}
	return ids.New("apr_")
}
