package gate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gatehousehq/gatehouse/internal/approval"
	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/authz"
	"github.com/gatehousehq/gatehouse/internal/principal"
	"github.com/gatehousehq/gatehouse/internal/tools"
)

// StatusAwaitingApproval is a held call's status while it waits.
const StatusAwaitingApproval = "awaiting_approval"

// Held is a call that waits for a person's approval: exactly these
// canonical arguments run if it is approved.
type Held struct {
	ApprovalID string
	CallID     string
	Tool       string
	Arguments  string // canonical JSON of the decoded arguments
	ArgsSHA256 string
	Approvers  []string
	CreatedAt  time.Time
	ExpiresAt  time.Time
}

// Approval is h as the approval store keeps it, for run runID of p.
func (h Held) Approval(runID string, p *principal.Principal) approval.Approval {
	return approval.Approval{ID: h.ApprovalID, RunID: runID, CallID: h.CallID, Tool: h.Tool,
		Arguments: h.Arguments, ArgsSHA256: h.ArgsSHA256, Owner: p.Key(), RequestedBy: approval.RequesterOf(p),
		Approvers: h.Approvers, CreatedAt: h.CreatedAt, ExpiresAt: h.ExpiresAt, Status: approval.StatusPending}
}

// CanonicalArgs is the one encoding of decoded arguments an approver sees,
// hashes and approves: JSON with sorted keys, no HTML escaping, no
// whitespace. Decoding it with the tool's decoder gives the same arguments.
func CanonicalArgs(args tools.Args) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if args == nil {
		args = tools.Args{}
	}
	if err := enc.Encode(args); err != nil {
		return "", err
	}
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n"))), nil
}

// approval holds an allowed call whose tool's approval rule holds for its
// arguments; the event becomes approval.requested.
func (g *Gate) approval(ctx context.Context, in Input, dec Decision) Decision {
	rule := dec.Tool.Policy.Approval
	need, err := rule.Needed(ctx, in.Principal, dec.Args)
	var canon string
	if err == nil && need {
		canon, err = CanonicalArgs(dec.Args)
	}
	if err != nil {
		return dec.Refused(authz.Decision{Rule: "approval of " + dec.Tool.Policy.Tool + ": " + rule.WhenSource,
			Reason: "the tool's approval condition could not be evaluated for this call", Detail: err.Error()})
	}
	if !need {
		return dec
	}
	now := g.now().UTC()
	h := &Held{ApprovalID: g.approvalID(), CallID: in.Call.ID, Tool: dec.Tool.Policy.Tool, Arguments: canon,
		ArgsSHA256: approval.ArgsHash(canon), Approvers: rule.Approvers, CreatedAt: now, ExpiresAt: now.Add(rule.TTL)}
	allowed := dec
	dec.allowed = &allowed
	dec.Verdict, dec.Status, dec.Held = Hold, StatusAwaitingApproval, h
	dec.Reason = fmt.Sprintf("awaiting approval %s by a holder of %v", h.ApprovalID, rule.Approvers)
	ev := &dec.Event
	ev.Type, ev.Decision, ev.Outcome = audit.TypeApprovalRequested, "", "pending"
	ev.Rule = dec.Rule.Rule + "; approval of " + h.Tool
	if rule.WhenSource != "" {
		ev.Rule += " when " + rule.WhenSource
	}
	ev.Reason = "approval " + h.ApprovalID + " requested"
	claims, hasClaims := ev.Content["claims"]
	ev.Content = map[string]string{"arguments": canon, "args_sha256": h.ArgsSHA256}
	if hasClaims {
		ev.Content["claims"] = claims
	}
	return dec
}

// Recheck decides a held call again once a person has answered it: it is
// allowed only when the approval was approved, the stored arguments still
// hash to what was approved, the tool is still declared, and the
// requester's permission and condition allow the approved arguments under
// the live policy (a role revoked while the call waited is not overridden
// by the approval). The event is the call's final tool.decided.
func (g *Gate) Recheck(ctx context.Context, in Input, a approval.Approval) Decision {
	in.Call.Arguments = a.Arguments
	name := "approval " + a.ID
	t := in.Declared[a.Tool]
	dec := Decision{Call: in.Call, Tool: t, Event: event(in, t)}
	if t == nil {
		dec.Event.Resource = "tool:" + a.Tool // configured when it was held
	}
	var rule authz.Decision
	switch {
	case a.Status == approval.StatusDenied:
		rule = authz.Decision{Rule: name + " denied by " + a.DecidedBy.String(), Reason: "a person denied this call", Detail: a.Comment}
		if a.Comment != "" {
			// The approver's words: content, never a clear field.
			dec.Event.Content["comment"] = a.Comment
		}
	case a.Status == approval.StatusExpired:
		rule = authz.Decision{Rule: name + " expired", Reason: "nobody approved this call before its approval expired"}
	case a.Status != approval.StatusApproved:
		rule = authz.Decision{Rule: name, Reason: "the approval was not decided"}
	case approval.ArgsHash(a.Arguments) != a.ArgsSHA256:
		// The stored arguments are not the ones approved: never run them.
		rule = authz.Decision{Rule: name, Reason: "the stored arguments do not match the approved hash"}
	case t == nil:
		rule = authz.Decision{Rule: name, Reason: "the tool is no longer configured"}
	default:
		args, err := t.Decode([]byte(a.Arguments))
		if err != nil {
			return g.invalid(in, t, err)
		}
		dec.Args = args
		rule = g.Perms.AuthorizeTool(ctx, in.Principal, t.Policy, args)
		if rule.Allow {
			rule.Rule += "; " + name + " approved by " + a.DecidedBy.String()
		}
	}
	dec = dec.settle(rule, "denied")
	if a.Status == approval.StatusDenied {
		delete(dec.Event.Content, "error") // the comment is already content
	}
	return dec
}

// NotApproved reports whether a refusal came from the person's answer
// (denied or expired) rather than from the policy.
func NotApproved(a approval.Approval) bool {
	return a.Status == approval.StatusDenied || a.Status == approval.StatusExpired
}

// WithoutHold is a held decision as it stood before approval was asked
// for: allowed, its event tool.decided (a door that will not hold the call
// after all, such as a pass-through turn asked again because another of
// its calls was refused).
func (d Decision) WithoutHold() Decision {
	if d.allowed == nil {
		return d
	}
	return *d.allowed
}
