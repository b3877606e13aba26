package chat

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gatehousehq/gatehouse/internal/agent"
	"github.com/gatehousehq/gatehouse/internal/approval"
	"github.com/gatehousehq/gatehouse/internal/principal"
)

// ErrApprovalUnavailable: a run reached a call needing approval but this
// service keeps no paused runs.
var ErrApprovalUnavailable = approval.ErrUnavailable

// pausedState is a paused run as stored: what continuing it as the
// requester needs.
type pausedState struct {
	Principal  *principal.Principal `json:"principal"`
	RequestID  string               `json:"request_id"`
	NewSession bool                 `json:"new_session"`
	Stateless  bool                 `json:"stateless"`
	Paused     *agent.Paused        `json:"paused"`
}

// pause stores a run stopped at held calls, with one pending approval per
// call, and returns what the caller is told.
func (s *Service) pause(ctx context.Context, req *Request, ag *agent.Agent, runID, sessionID string, newSession bool, out *agent.Result) (*Result, error) {
	p := req.Principal
	state, as, err := pausedRecord(pausedState{Principal: p, RequestID: req.RequestID, NewSession: newSession, Stateless: req.Stateless, Paused: out.Paused}, runID)
	if err != nil {
		return nil, err
	}
	run := approval.Run{ID: runID, Owner: p.Key(), Kind: approval.KindAgent, Agent: ag.Name, SessionID: sessionID, State: state}
	if err := approval.Pause(ctx, s.cfg.Approvals, s.now(), run, as); err != nil {
		return nil, err
	}
	res := &Result{RunID: runID, SessionID: sessionID, Agent: ag.Name, Model: out.Model, ToolCalls: out.ToolCalls,
		Usage: out.Usage, Status: approval.RunAwaiting, Approvals: as, AuditEvents: out.AuditEvents}
	if res.ToolCalls == nil {
		res.ToolCalls = []agent.ToolCallRecord{}
	}
	return res, nil
}

// pausedRecord is a paused run's stored state and its pending approvals.
func pausedRecord(ps pausedState, runID string) ([]byte, []approval.Approval, error) {
	state, err := json.Marshal(ps)
	if err != nil {
		return nil, nil, fmt.Errorf("encode paused run: %w", err)
	}
	as := make([]approval.Approval, 0, len(ps.Paused.Held))
	for _, h := range ps.Paused.Held {
		as = append(as, h.Approval(runID, ps.Principal))
	}
	return state, as, nil
}

// Lease is how long continuing an agent's run may take: its run timeout.
func (s *Service) Lease(run approval.Run) time.Duration {
	if ag := s.cfg.Agents[run.Agent]; ag != nil && ag.Limits.RunTimeout > 0 {
		return ag.Limits.RunTimeout
	}
	return 0
}

// Continue goes on with a paused agent run once its approvals are
// decided (approval.Continuer): the held calls run as the requester if
// the gate still allows them, and the model continues. Its messages join
// the session.
func (s *Service) Continue(ctx context.Context, run approval.Run, as []approval.Approval, claim func(context.Context, string) (bool, error)) (approval.Continued, error) {
	ag := s.cfg.Agents[run.Agent]
	if ag == nil {
		return approval.Continued{}, fmt.Errorf("agent %q is no longer configured", run.Agent)
	}
	var state pausedState
	if err := json.Unmarshal(run.State, &state); err != nil || state.Paused == nil || state.Principal == nil || len(state.Paused.New) == 0 {
		return approval.Continued{}, fmt.Errorf("paused run %s: unreadable state", run.ID)
	}
	byID := make(map[string]approval.Approval, len(as))
	for _, a := range as {
		byID[a.ID] = a
	}
	out, err := s.cfg.Runner.Resume(ctx, agent.ResumeRequest{
		Run: agent.RunRequest{Agent: ag, Principal: state.Principal, History: state.Paused.History,
			RequestID: state.RequestID, RunID: run.ID, SessionID: run.SessionID},
		Paused: state.Paused, Approvals: byID, Claim: claim,
	})
	if err != nil {
		return approval.Continued{}, err
	}
	if out.Paused != nil {
		// Another call needs approval: the run waits again, with the
		// session still to be written at its end.
		state.Paused = out.Paused
		b, as, err := pausedRecord(state, run.ID)
		return approval.Continued{Repause: &approval.Repause{State: b, Approvals: as}}, err
	}
	if err := s.store(ctx, state.Principal, ag.Name, run.SessionID, state.NewSession, state.Stateless, out.Messages); err != nil {
		return approval.Continued{}, err
	}
	calls := out.ToolCalls
	if calls == nil {
		calls = []agent.ToolCallRecord{}
	}
	b, err := json.Marshal(agent.RunResult{Response: out.Response, Model: out.Model, ToolCalls: calls, Usage: out.Usage})
	return approval.Continued{Result: b}, err
}

func (s *Service) now() time.Time {
	if s.cfg.Now != nil {
		return s.cfg.Now()
	}
	return time.Now()
}
