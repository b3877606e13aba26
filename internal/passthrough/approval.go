package passthrough

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse/internal/agent"
	"github.com/gatehousehq/gatehouse/internal/approval"
	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/authz"
	"github.com/gatehousehq/gatehouse/internal/ids"
	"github.com/gatehousehq/gatehouse/internal/llm"
)

// RunPrefix marks a paused pass-through turn in approval.Run.Agent.
const RunPrefix = "model:"

// PausedTurn is a pass-through turn held for approval: the model's calls,
// none released yet. When every approval is decided, the allowed calls
// (approved ones with exactly their approved arguments) are released to
// the caller, who reads them from GET /v1/runs/{id}.
type PausedTurn struct {
	Calls []llm.ToolCall `json:"calls"`
	// Held maps a held call's id to its approval id.
	Held map[string]string `json:"held"`
}

// hold checks the allowed calls of a turn for approval. It returns the
// approvals of those that need one (their events turned into
// approval.requested); when a call's when cannot be evaluated, that call is
// denied (the turn is then refused) and nothing is sent for approval.
func (s *Service) hold(ctx context.Context, req Request, gated []agent.Gated) []approval.Approval {
	p := req.Principal
	need := make([]bool, len(gated))
	canon := make([]string, len(gated))
	failed := false
	for i := range gated {
		g := &gated[i]
		if !g.Decision.Allow || g.Tool.Policy.Approval == nil {
			continue
		}
		rule := g.Tool.Policy.Approval
		n, err := rule.Needed(ctx, p, g.Args)
		if err == nil && n {
			canon[i], err = agent.CanonicalArgs(g.Args)
		}
		if err != nil {
			// Denied: the turn is refused, and nothing is sent for approval.
			g.Decision = authz.Decision{Rule: "approval of " + g.Call.Name + ": " + rule.WhenSource,
				Reason: "the tool's approval condition could not be evaluated for this call", Detail: err.Error()}
			g.Status = "denied"
			g.Event.Decision, g.Event.Rule, g.Event.Reason = audit.Deny, g.Decision.Rule, g.Decision.Reason
			g.Event.Content["error"] = err.Error()
			failed = true
		}
		need[i] = n
	}
	if failed {
		return nil
	}
	var as []approval.Approval
	now := s.Now().UTC()
	for i := range gated {
		g := &gated[i]
		if !need[i] {
			continue
		}
		rule := g.Tool.Policy.Approval
		a := approval.Approval{ID: ids.New("apr_"), RunID: req.RunID, CallID: g.Call.ID, Tool: g.Tool.Policy.Tool,
			Arguments: canon[i], ArgsSHA256: approval.ArgsHash(canon[i]), Owner: p.Key(),
			RequestedBy: approval.Requester{Subject: p.Subject, Method: string(p.Method), Issuer: p.Issuer},
			Approvers:   rule.Approvers, CreatedAt: now, ExpiresAt: now.Add(rule.TTL), Status: approval.StatusPending}
		as = append(as, a)
		ev := &g.Event
		ev.Type, ev.Decision, ev.Outcome = audit.TypeApprovalRequested, "", "pending"
		ev.Rule = g.Decision.Rule + "; approval of " + a.Tool
		ev.Reason = "approval " + a.ID + " requested"
		ev.Content = map[string]string{"arguments": canon[i], "args_sha256": a.ArgsSHA256}
	}
	return as
}

// pause stores a held turn; the client is told it awaits approval.
func (s *Service) pause(ctx context.Context, req Request, m Model, calls []llm.ToolCall, as []approval.Approval, res *Result) error {
	if s.Approvals == nil {
		return fmt.Errorf("a client tool call needs approval but no approval store is configured")
	}
	turn := PausedTurn{Calls: calls, Held: map[string]string{}}
	for _, a := range as {
		turn.Held[a.CallID] = a.ID
	}
	state, err := json.Marshal(turn)
	if err != nil {
		return err
	}
	run := approval.Run{ID: req.RunID, Owner: req.Principal.Key(), Agent: RunPrefix + m.Name, Status: approval.RunAwaiting,
		State: state, UpdatedAt: s.Now().UTC()}
	if err := s.Approvals.CreateRun(ctx, run, as); err != nil {
		return fmt.Errorf("store held tool calls: %w", err)
	}
	var b strings.Builder
	b.WriteString("This action awaits human approval:")
	for _, a := range as {
		fmt.Fprintf(&b, " %s (approval %s, by a holder of %s, expires %s);", a.Tool, a.ID, strings.Join(a.Approvers, " or "), a.ExpiresAt.Format(time.RFC3339))
	}
	fmt.Fprintf(&b, " once decided, GET /v1/runs/%s gives the calls released to you.", req.RunID)
	res.Message = llm.Message{Role: "assistant", Content: b.String()}
	res.FinishReason = "stop"
	res.Approvals = as
	for i := range res.Decisions {
		for _, a := range as {
			if res.Decisions[i].ID == a.CallID {
				res.Decisions[i].Decision, res.Decisions[i].Status = "pending", agent.StatusAwaitingApproval
				res.Decisions[i].Reason = "awaiting approval " + a.ID
			}
		}
	}
	return nil
}

// ReleaseDecided releases a decided held turn's calls to its owner: the
// calls that needed no approval and the approved ones, with exactly the
// approved arguments (their hash checked again); denied and expired ones
// are not released. claim marks an approved call as released, once.
func (s *Service) ReleaseDecided(ctx context.Context, run approval.Run, as []approval.Approval, claim func(context.Context, string) (bool, error)) ([]agent.ToolCallRecord, error) {
	var turn PausedTurn
	if err := json.Unmarshal(run.State, &turn); err != nil {
		return nil, fmt.Errorf("paused turn %s: unreadable state", run.ID)
	}
	byID := map[string]approval.Approval{}
	for _, a := range as {
		byID[a.ID] = a
	}
	var recs []agent.ToolCallRecord
	var rel []Released
	base := audit.Event{RunID: run.ID}
	var evs []audit.Event
	for _, c := range turn.Calls {
		rec := agent.ToolCallRecord{ID: c.ID, Name: c.Name, Arguments: c.Arguments, Decision: audit.Allow, Status: "released"}
		if aid, ok := turn.Held[c.ID]; ok {
			a := byID[aid]
			ev := base
			ev.Type, ev.Resource, ev.Decision = audit.TypeToolDecided, "tool:"+a.Tool, audit.Deny
			ev.Content = map[string]string{"arguments": a.Arguments}
			rec.Arguments = a.Arguments
			switch {
			case a.Status != approval.StatusApproved:
				rec.Decision, rec.Status, rec.Rule = audit.Deny, "denied", "approval "+a.ID+" "+a.Status
			case approval.ArgsHash(a.Arguments) != a.ArgsSHA256:
				rec.Decision, rec.Status, rec.Rule = audit.Deny, "denied", "approval "+a.ID+": stored arguments do not match the approved hash"
			default:
				won, err := claim(ctx, a.ID)
				if err != nil {
					return nil, err
				}
				if !won {
					rec.Decision, rec.Status, rec.Rule = audit.Deny, "not_run", "approval "+a.ID+": already released"
					break
				}
				rec.Rule = "approval " + a.ID + " approved by " + a.DecidedBy.Method + ":" + a.DecidedBy.Subject
				ev.Decision = audit.Allow
			}
			ev.Rule, ev.Reason = rec.Rule, "held call "+c.ID+" decided"
			evs = append(evs, ev)
		}
		if rec.Status == "released" {
			h, _ := ArgumentsHash(rec.Arguments) // as the client reads them in the run
			rel = append(rel, Released{ID: c.ID, Owner: run.Owner, Tool: c.Name, RunID: run.ID, ArgsSHA256: h, Time: s.Now().UTC()})
		}
		recs = append(recs, rec)
	}
	// Durable before any call is released.
	if err := s.Audit.Record(ctx, evs...); err != nil {
		return nil, err
	}
	if len(rel) > 0 {
		if err := s.Calls.Release(ctx, rel); err != nil {
			return nil, fmt.Errorf("release approved tool calls: %w", err)
		}
	}
	return recs, nil
}
