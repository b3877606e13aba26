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
	"github.com/gatehousehq/gatehouse/internal/gate"
	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/principal"
)

// PausedTurn is a pass-through turn held for approval: the model's calls,
// none released yet. When every approval is decided, the calls the gate
// still allows (approved ones with exactly their approved arguments) are
// released to the caller, who reads them from GET /v1/runs/{id}.
type PausedTurn struct {
	// Principal is the caller the turn was held for: the calls are decided
	// again as that caller, under the live policy, before any is released.
	Principal *principal.Principal `json:"principal"`
	RequestID string               `json:"request_id,omitempty"`
	Calls     []llm.ToolCall       `json:"calls"`
	// Held maps a held call's id to its approval id.
	Held map[string]string `json:"held"`
	// Door names the door the turn came through (gate.Door.Name); empty
	// in turns held before it was kept: the Chat Completions door.
	Door string `json:"door,omitempty"`
}

// door is the registered door the turn came through; a name the registry
// does not know stays unknown, and the gate refuses its calls.
func (t PausedTurn) door() gate.Door {
	if t.Door == "" {
		return gate.DoorPassthrough
	}
	d, _ := gate.DoorNamed(t.Door)
	return d
}

// pause stores a held turn; the client is told it awaits approval.
func (s *Service) pause(ctx context.Context, req Request, m Model, calls []llm.ToolCall, decided []gate.Decision, res *Result) error {
	turn := PausedTurn{Principal: req.Principal, RequestID: req.RequestID, Calls: calls, Held: map[string]string{}, Door: req.door().Name()}
	var as []approval.Approval
	for _, d := range decided {
		if d.Held != nil {
			turn.Held[d.Call.ID] = d.Held.ApprovalID
			as = append(as, d.Held.Approval(req.RunID, req.Principal))
		}
	}
	state, err := json.Marshal(turn)
	if err != nil {
		return err
	}
	run := approval.Run{ID: req.RunID, Owner: req.Principal.Key(), Kind: approval.KindPassthrough, Agent: m.Name, State: state}
	if err := approval.Pause(ctx, s.Approvals, s.Now(), run, as); err != nil {
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
	return nil
}

// Lease: releasing a decided turn needs no more than the service's margin.
func (s *Service) Lease(approval.Run) time.Duration { return 0 }

// Continue releases a decided held turn's calls to its owner. Every call
// is decided again by the gate as the requester under the live policy: a
// held call must have been approved, still hash to what was approved, and
// still be allowed (a role revoked while it waited is not overridden by
// the approval); the others must still be allowed. Calls that are not are
// withheld. claim marks an approved call as released, once.
func (s *Service) Continue(ctx context.Context, run approval.Run, as []approval.Approval, claim func(context.Context, string) (bool, error)) (approval.Continued, error) {
	var turn PausedTurn
	if err := json.Unmarshal(run.State, &turn); err != nil || turn.Principal == nil {
		return approval.Continued{}, fmt.Errorf("paused turn %s: unreadable state", run.ID)
	}
	byID := map[string]approval.Approval{}
	for _, a := range as {
		byID[a.ID] = a
	}
	p := turn.Principal
	base := audit.Event{RequestID: turn.RequestID, RunID: run.ID}.By(p)
	in := gate.Input{Door: turn.door(), Principal: p, Base: base, Declared: s.Tools, Offered: s.visible(p)}
	var recs []agent.ToolCallRecord
	var evs []audit.Event
	var rel []Released
	for _, c := range turn.Calls {
		in.Call = c
		d, err := s.redecide(ctx, in, turn.Held[c.ID], byID, claim)
		if err != nil {
			return approval.Continued{}, err
		}
		evs = append(evs, d.Event)
		rec := agent.RecordOf(d)
		if d.Allowed() {
			rec.Status = "released"
			h, _ := ArgumentsHash(rec.Arguments) // as the client reads them in the run
			rel = append(rel, Released{ID: c.ID, Owner: run.Owner, Tool: c.Name, RunID: run.ID, ArgsSHA256: h, Time: s.Now().UTC()})
		} else {
			rec.Status = "not_released"
		}
		recs = append(recs, rec)
	}
	// Durable before any call is released.
	if err := s.Audit.Record(ctx, evs...); err != nil {
		return approval.Continued{}, err
	}
	if len(rel) > 0 {
		if err := s.Calls.Release(ctx, rel); err != nil {
			return approval.Continued{}, fmt.Errorf("release approved tool calls: %w", err)
		}
	}
	b, err := json.Marshal(agent.RunResult{Model: run.Agent, ToolCalls: recs})
	return approval.Continued{Result: b}, err
}

// redecide is one call of a held turn decided again: a held call by its
// approval (and claimed once), another by the gate as it stands now.
func (s *Service) redecide(ctx context.Context, in gate.Input, approvalID string, byID map[string]approval.Approval, claim func(context.Context, string) (bool, error)) (gate.Decision, error) {
	if approvalID == "" {
		d := s.gate().Decide(ctx, in)
		if d.Verdict == gate.Hold {
			d = d.Refused(errNeedsApprovalNow)
		}
		return d, nil
	}
	a, ok := byID[approvalID]
	if !ok {
		a = approval.Approval{ID: approvalID, Tool: in.Call.Name}
	}
	d := s.gate().Recheck(ctx, in, a)
	if !d.Allowed() {
		return d, nil
	}
	won, err := claim(ctx, a.ID)
	if err != nil {
		return d, err
	}
	if !won {
		return d.Refused(errAlreadyReleased(a.ID)), nil
	}
	return d, nil
}

// errNeedsApprovalNow refuses a call that needed no approval when it was
// held beside one that did, but needs one under the live policy.
var errNeedsApprovalNow = authz.Decision{Rule: "approval", Reason: "the call needs approval under the policy now in force; it was not released"}

func errAlreadyReleased(id string) authz.Decision {
	return authz.Decision{Rule: "approval " + id, Reason: "the approved call was already released"}
}

// visible are the client tools p may use now.
func (s *Service) visible(p *principal.Principal) map[string]*agent.Tool {
	return gate.Callable(s.Perms, p, s.Tools)
}

func (s *Service) gate() *gate.Gate {
	if s.Gate != nil {
		return s.Gate
	}
	return &gate.Gate{Perms: s.Perms, Now: s.Now}
}
