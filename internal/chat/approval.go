package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse/internal/agent"
	"github.com/gatehousehq/gatehouse/internal/approval"
	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/passthrough"
	"github.com/gatehousehq/gatehouse/internal/principal"
)

// ErrApprovalUnavailable: a run reached a call needing approval but this
// service keeps no paused runs.
var ErrApprovalUnavailable = errors.New("a tool call needs approval but no approval store is configured")

// pausedState is a paused run as stored: what Resume needs to continue it
// as the requester.
type pausedState struct {
	Principal  *principal.Principal `json:"principal"`
	RequestID  string               `json:"request_id"`
	NewSession bool                 `json:"new_session"`
	Stateless  bool                 `json:"stateless"`
	Paused     *agent.Paused        `json:"paused"`
}

// storedResult is a resumed run's answer, as GET /v1/runs/{id} gives it.
type storedResult struct {
	Response  string                 `json:"response"`
	Model     string                 `json:"model"`
	ToolCalls []agent.ToolCallRecord `json:"tool_calls"`
	Usage     llm.Usage              `json:"usage"`
}

// pause stores a run stopped at held calls, with one pending approval per
// call, and returns what the caller is told.
func (s *Service) pause(ctx context.Context, req *Request, ag *agent.Agent, runID, sessionID string, newSession bool, out *agent.Result) (*Result, error) {
	if s.cfg.Approvals == nil {
		return nil, ErrApprovalUnavailable
	}
	p := req.Principal
	state, as, err := pausedRecord(pausedState{Principal: p, RequestID: req.RequestID, NewSession: newSession, Stateless: req.Stateless, Paused: out.Paused}, runID)
	if err != nil {
		return nil, err
	}
	run := approval.Run{ID: runID, Owner: p.Key(), Agent: ag.Name, SessionID: sessionID, Status: approval.RunAwaiting,
		State: state, UpdatedAt: time.Now().UTC()}
	if err := s.cfg.Approvals.CreateRun(ctx, run, as); err != nil {
		return nil, fmt.Errorf("store paused run: %w", err)
	}
	res := &Result{RunID: runID, SessionID: sessionID, Agent: ag.Name, Model: out.Model, ToolCalls: out.ToolCalls,
		Usage: out.Usage, Status: approval.RunAwaiting, Approvals: as}
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
	p := ps.Principal
	by := approval.Requester{Subject: p.Subject, Method: string(p.Method), Issuer: p.Issuer}
	var as []approval.Approval
	for _, h := range ps.Paused.Held {
		as = append(as, approval.Approval{ID: h.ApprovalID, RunID: runID, CallID: h.CallID, Tool: h.Tool,
			Arguments: h.Arguments, ArgsSHA256: h.ArgsSHA256, Owner: p.Key(), RequestedBy: by, Approvers: h.Approvers,
			CreatedAt: h.CreatedAt, ExpiresAt: h.ExpiresAt, Status: approval.StatusPending})
	}
	return state, as, nil
}

// errRepaused: a resumed run paused again at new approvals (not a failure).
var errRepaused = errors.New("paused again")

// Resume continues a paused run once none of its approvals is pending,
// if this caller wins the claim on it (exactly one does, on any replica).
// The run's tools run as its requester; its messages join the session.
// It returns nil when there is nothing (more) to do here.
func (s *Service) Resume(ctx context.Context, runID string) error {
	st := s.cfg.Approvals
	if st == nil {
		return nil
	}
	run, err := st.GetRun(ctx, runID)
	if err != nil || run.Status != approval.RunAwaiting {
		return err
	}
	ag := s.cfg.Agents[run.Agent]
	lease := s.cfg.ResumeLease
	if ag != nil && ag.Limits.RunTimeout > 0 {
		lease += ag.Limits.RunTimeout
	}
	now := time.Now()
	won, err := st.ClaimRun(ctx, runID, now, now.Add(lease))
	if err != nil || !won {
		return err
	}
	var res *storedResult
	var runErr error
	if strings.HasPrefix(run.Agent, passthrough.RunPrefix) {
		res, runErr = s.release(ctx, run)
	} else {
		res, runErr = s.resume(ctx, run, ag)
	}
	if errors.Is(runErr, errRepaused) {
		return nil
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if runErr != nil {
		return st.FinishRun(fctx, runID, approval.RunFailed, nil, runErr.Error(), time.Now())
	}
	b, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("encode run result: %w", err)
	}
	return st.FinishRun(fctx, runID, approval.RunCompleted, b, "", time.Now())
}

func (s *Service) resume(ctx context.Context, run approval.Run, ag *agent.Agent) (*storedResult, error) {
	if ag == nil {
		return nil, fmt.Errorf("agent %q is no longer configured", run.Agent)
	}
	var state pausedState
	if err := json.Unmarshal(run.State, &state); err != nil || state.Paused == nil || state.Principal == nil || len(state.Paused.New) == 0 {
		return nil, fmt.Errorf("paused run %s: unreadable state", run.ID)
	}
	as, err := s.cfg.Approvals.RunApprovals(ctx, run.ID)
	if err != nil {
		return nil, err
	}
	decisions := map[string]agent.Decision{}
	for _, a := range as {
		decisions[a.ID] = agent.Decision{Status: a.Status, By: describe(a.DecidedBy), Comment: a.Comment}
	}
	// The held calls run with exactly the arguments their approvals bind.
	for i, h := range state.Paused.Held {
		for _, a := range as {
			if a.ID == h.ApprovalID {
				state.Paused.Held[i].Arguments, state.Paused.Held[i].ArgsSHA256 = a.Arguments, a.ArgsSHA256
			}
		}
	}
	out, err := s.cfg.Runner.Resume(ctx, agent.ResumeRequest{
		Run: agent.RunRequest{Agent: ag, Principal: state.Principal, History: state.Paused.History,
			RequestID: state.RequestID, RunID: run.ID, SessionID: run.SessionID},
		Paused: state.Paused, Decisions: decisions, Claim: s.cfg.Approvals.MarkExecuted,
	})
	if err != nil {
		return nil, err
	}
	if out.Paused != nil {
		// The resumed run reached another call needing approval: it waits
		// again, with the session still to be written at its end.
		state.Paused = out.Paused
		b, as, err := pausedRecord(state, run.ID)
		if err != nil {
			return nil, err
		}
		if err := s.cfg.Approvals.RepauseRun(ctx, run.ID, b, as, time.Now()); err != nil {
			return nil, err
		}
		return nil, errRepaused
	}
	if err := s.store(ctx, state.Principal, ag.Name, run.SessionID, state.NewSession, state.Stateless, out.Messages); err != nil {
		return nil, err
	}
	calls := out.ToolCalls
	if calls == nil {
		calls = []agent.ToolCallRecord{}
	}
	return &storedResult{Response: out.Response, Model: out.Model, ToolCalls: calls, Usage: out.Usage}, nil
}

// release ends a pass-through turn held for approval: its allowed calls
// are released to the caller, listed in the run's tool_calls.
func (s *Service) release(ctx context.Context, run approval.Run) (*storedResult, error) {
	if s.cfg.Passthrough == nil {
		return nil, errors.New("pass-through is no longer configured")
	}
	as, err := s.cfg.Approvals.RunApprovals(ctx, run.ID)
	if err != nil {
		return nil, err
	}
	recs, err := s.cfg.Passthrough.ReleaseDecided(ctx, run, as, s.cfg.Approvals.MarkExecuted)
	if err != nil {
		return nil, err
	}
	return &storedResult{Response: "", Model: strings.TrimPrefix(run.Agent, passthrough.RunPrefix), ToolCalls: recs}, nil
}

func describe(r approval.Requester) string {
	if r.Subject == "" {
		return "nobody"
	}
	s := r.Method + ":" + r.Subject
	if r.Issuer != "" {
		s += " (" + r.Issuer + ")"
	}
	return s
}

// RunStatus is a run as its owner sees it (GET /v1/runs/{id}).
type RunStatus struct {
	RunID     string
	SessionID string
	Agent     string
	Status    string
	Approvals []approval.Approval
	// When completed:
	Response  string
	Model     string
	ToolCalls []agent.ToolCallRecord
	Usage     llm.Usage
	Error     string // when failed
}

// Run returns the caller's own run; anyone else's is ErrNotFound.
func (s *Service) RunStatus(ctx context.Context, p *principal.Principal, id string) (*RunStatus, error) {
	if s.cfg.Approvals == nil {
		return nil, approval.ErrNotFound
	}
	run, err := s.cfg.Approvals.GetRun(ctx, id)
	if err != nil {
		return nil, err
	}
	if run.Owner != p.Key() {
		return nil, approval.ErrNotFound
	}
	rs := &RunStatus{RunID: run.ID, SessionID: run.SessionID, Agent: run.Agent, Status: run.Status, Error: run.Error}
	if run.Status == approval.RunRunning && !run.LeaseUntil.IsZero() && time.Now().After(run.LeaseUntil) {
		rs.Status, rs.Error = approval.RunFailed, ErrResumeLost
	}
	if rs.Status == approval.RunAwaiting || rs.Status == approval.RunRunning {
		if rs.Approvals, err = s.cfg.Approvals.RunApprovals(ctx, id); err != nil {
			return nil, err
		}
	}
	if run.Status == approval.RunCompleted {
		var r storedResult
		if err := json.Unmarshal(run.Result, &r); err != nil {
			return nil, fmt.Errorf("run %s: unreadable result", id)
		}
		rs.Response, rs.Model, rs.ToolCalls, rs.Usage = r.Response, r.Model, r.ToolCalls, r.Usage
	}
	return rs, nil
}

// ErrResumeLost is why a run whose resumption outlived its lease failed:
// the replica resuming it stopped; its approved calls are not run again.
const ErrResumeLost = "the server resuming this run stopped before it finished; approved calls that had started are not run again"
