package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/authz"
	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/principal"
	"github.com/gatehousehq/gatehouse/internal/tools"
)

// Gated is one proposed tool call after the policy gate: the decision, the
// arguments it was made over (nil unless they decoded), the audit event that
// records it, and what the caller and the model are told of a refusal.
type Gated struct {
	Call     llm.ToolCall
	Tool     *Tool // nil when the name is not a tool offered to the caller
	Args     tools.Args
	Decision authz.Decision
	// Status is "" for an allowed call, else denied | invalid_arguments.
	Status string
	// Reason is what the caller and the model are told: it may quote the
	// call's own values, which the event keeps only as content.
	Reason string
	// Event is the tool.decided event, to be made durable before the call
	// is acted on (run here, or released to a client).
	Event audit.Event
}

// Gate decides one tool call proposed by a model: the tool must be one of
// those offered to the caller (offered; declared names every tool that
// exists, for the record), its arguments must pass the tool's strict
// decoder, then permission and condition must allow it. It is the one rule
// every front door applies — agent runs, the pass-through, MCP — so a call
// is judged the same wherever it comes from.
//
// Only configured names reach the event's clear fields: a name the model
// invented, and any decoder or condition message quoting the arguments, go
// to Content, which the log stores per audit.content.
func Gate(ctx context.Context, perms *authz.Permissions, p *principal.Principal, base audit.Event, declared, offered map[string]*Tool, c llm.ToolCall) Gated {
	g := Gated{Call: c, Status: "denied"}
	ev := base
	ev.Type = audit.TypeToolDecided
	ev.Content = map[string]string{"arguments": c.Arguments}
	d, isDeclared := declared[c.Name]
	t := offered[c.Name]
	switch {
	case !isDeclared:
		// A name the model made up may carry the user's words.
		ev.Resource = unknownTool
		ev.Content["tool"] = c.Name
		g.Decision = authz.Decision{Rule: "tool not offered", Reason: "the model asked for a tool that is not configured"}
		g.Reason = fmt.Sprintf("tool %s was not offered to this caller", CutName(c.Name))
	case t == nil:
		ev.Resource = "tool:" + d.Policy.Tool
		g.Decision = authz.Decision{Rule: "tool not offered", Reason: fmt.Sprintf("tool %s was not offered to this caller", d.Policy.Tool)}
	case tools.DisabledReason(t.Impl) != "":
		g.Tool = t
		ev.Resource = "tool:" + t.Policy.Tool
		g.Decision = authz.Decision{Rule: "tool disabled", Reason: tools.DisabledReason(t.Impl)}
	default:
		g.Tool = t
		ev.Resource = "tool:" + t.Policy.Tool
		raw := c.Arguments
		if strings.TrimSpace(raw) == "" {
			raw = "{}" // some models send nothing for a tool without arguments
		}
		args, err := t.Decode([]byte(raw))
		if err != nil {
			// The decoder's message may quote the model's keys: the caller
			// sees it, the log keeps it as content and only a redacted
			// version in clear.
			reason := "invalid arguments"
			var re redacter
			if errors.As(err, &re) {
				reason = re.Redacted()
			}
			g.Decision = authz.Decision{Rule: "argument schema of " + t.Policy.Tool, Reason: reason}
			g.Reason = err.Error()
			ev.Content["error"] = err.Error()
			g.Status = "invalid_arguments"
		} else {
			g.Args = args
			g.Decision = perms.AuthorizeTool(ctx, p, t.Policy, args)
		}
	}
	if g.Reason == "" {
		g.Reason = g.Decision.Reason
	}
	ev.Rule, ev.Reason = g.Decision.Rule, g.Decision.Reason
	if g.Decision.Detail != "" {
		// The caller and the model sent these values; the log keeps them
		// per audit.content.
		g.Reason = g.Decision.Reason + ": " + g.Decision.Detail
		ev.Content["error"] = g.Decision.Detail
	}
	if g.Decision.Allow {
		ev.Decision, g.Status = audit.Allow, ""
	} else {
		ev.Decision = audit.Deny
	}
	g.Event = ev
	return g
}

// Record is the call as reported to the caller; Status is left for the
// caller to fill for an allowed call.
func (g Gated) Record() ToolCallRecord {
	rec := ToolCallRecord{ID: g.Call.ID, Name: g.Call.Name, Arguments: g.Call.Arguments,
		Rule: g.Decision.Rule, Reason: g.Reason, Status: g.Status, Decision: audit.Deny}
	if g.Decision.Allow {
		rec.Decision = audit.Allow
	}
	return rec
}

// RefusalContent is the tool message a model receives for a refused call.
func (g Gated) RefusalContent() string {
	kind := "not_authorized"
	if g.Status == "invalid_arguments" {
		kind = "invalid_arguments"
	}
	return encode(toolError{Error: kind, Tool: g.Call.Name, Reason: g.Reason})
}

// Refused is g turned into a refusal by d (a check after the gate, such as
// an approval condition that cannot be evaluated).
func (g Gated) Refused(d authz.Decision) Gated {
	g.Decision, g.Status, g.Reason = d, "denied", d.Reason
	g.Event.Decision, g.Event.Rule, g.Event.Reason = audit.Deny, d.Rule, d.Reason
	if d.Detail != "" {
		g.Reason = d.Reason + ": " + d.Detail
		g.Event.Content["error"] = d.Detail
	}
	return g
}
