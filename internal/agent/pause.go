package agent

import (
	"context"
	"fmt"

	"github.com/gatehousehq/gatehouse/internal/approval"
	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/gate"
	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/tools"
)

// Held is a call that waits for a person's approval (the gate's Held).
type Held = gate.Held

// Paused is a run stopped at one round's calls awaiting approval: what
// resuming it needs, stored by the caller (chat) until then.
type Paused struct {
	History []llm.Message // the session's messages before the run
	// New are the run's messages so far; the last is the assistant turn
	// whose calls are held.
	New []llm.Message
	// Results answer that turn's calls that were not held, by call id.
	Results map[string]llm.Message
	Records []ToolCallRecord // the calls decided so far, held ones excluded
	Held    []Held
	Usage   llm.Usage
	Model   string
	Round   int // the round of the held calls
	Calls   int // tool calls counted so far
}

// StatusAwaitingApproval is a held call's status while it waits.
const StatusAwaitingApproval = gate.StatusAwaitingApproval

// CanonicalArgs is gate.CanonicalArgs: the arguments an approver sees.
func CanonicalArgs(args tools.Args) (string, error) { return gate.CanonicalArgs(args) }

// ResumeRequest continues a paused run.
type ResumeRequest struct {
	Run    RunRequest // Agent, Principal (the requester), RunID, SessionID, RequestID, Events
	Paused *Paused
	// Approvals are the held calls' decided approvals, by approval id.
	Approvals map[string]approval.Approval
	// Claim marks an approved call as running; the call runs only when it
	// returns true, so no resumption anywhere runs it twice.
	Claim func(ctx context.Context, approvalID string) (bool, error)
}

// Resume continues a paused run: each held call runs if it was approved
// (with the requester's identity, after its permission and condition are
// checked again, exactly the approved arguments) or is answered as refused,
// then the model continues. Events are recorded as in Run.
func (r *Runner) Resume(ctx context.Context, rr ResumeRequest) (*Result, error) {
	req, p := rr.Run, rr.Paused
	return r.run(ctx, req, audit.TypeRunResumed, func(ctx context.Context, base audit.Event, log *runLog) (*Result, error) {
		res := &Result{Model: p.Model, Usage: p.Usage, Messages: append([]llm.Message(nil), p.New...)}
		for _, rec := range p.Records {
			if rec.Status != StatusAwaitingApproval {
				res.ToolCalls = append(res.ToolCalls, rec)
			}
		}
		held := map[string]Held{}
		for _, h := range p.Held {
			held[h.CallID] = h
		}
		last := p.New[len(p.New)-1]
		var results []llm.Message
		for _, c := range last.ToolCalls {
			if m, ok := p.Results[c.ID]; ok {
				results = append(results, m)
				continue
			}
			h, ok := held[c.ID]
			if !ok {
				results = append(results, llm.Message{Role: "tool", ToolCallID: c.ID, Content: encode(toolError{Error: "not_run", Tool: c.Name, Reason: "the run ended first"})})
				continue
			}
			content, rec, err := r.resumeCall(ctx, rr, base, log, c, h)
			res.ToolCalls = append(res.ToolCalls, rec)
			if err != nil {
				return res, err
			}
			results = append(results, llm.Message{Role: "tool", ToolCallID: c.ID, Content: content})
		}
		res.Messages = append(res.Messages, results...)
		msgs := r.prompt(req.Agent, p.History, res.Messages)
		return r.turns(ctx, req, log, base, res, msgs, p.Round+1, p.Calls)
	})
}

// resumeCall decides a held call again with its person's answer (the
// gate's Recheck) and runs it if it is allowed, once.
func (r *Runner) resumeCall(ctx context.Context, rr ResumeRequest, base audit.Event, log *runLog, c llm.ToolCall, h Held) (string, ToolCallRecord, error) {
	req := rr.Run
	a, ok := rr.Approvals[h.ApprovalID]
	if !ok {
		a = approval.Approval{ID: h.ApprovalID, Tool: h.Tool, Arguments: h.Arguments, ArgsSHA256: h.ArgsSHA256}
	}
	d := r.gate().Recheck(ctx, gate.Input{Door: req.door(), Principal: req.Principal, Base: base,
		Declared: req.Agent.Tools, Call: c}, a)
	rec := RecordOf(d)
	if err := log.record(ctx, d.Event); err != nil {
		rec.Status = "not_run"
		return "", rec, fmt.Errorf("record tool decision: %w", err)
	}
	decided := rec
	log.emit(Event{Type: EventToolDecided, Call: &decided})
	if !d.Allowed() {
		kind := "not_authorized"
		if gate.NotApproved(a) {
			kind = "not_approved"
		}
		return encode(toolError{Error: kind, Tool: h.Tool, Reason: rec.Reason}), rec, nil
	}
	won, err := rr.Claim(ctx, h.ApprovalID)
	if err != nil {
		rec.Status = "not_run"
		return "", rec, fmt.Errorf("claim approved call: %w", err)
	}
	if !won {
		rec.Status = "not_run"
		rec.Reason = "the approved call was already run"
		return encode(toolError{Error: "not_run", Tool: h.Tool, Reason: rec.Reason}), rec, nil
	}
	return r.execute(ctx, req, base, log, d, rec)
}
