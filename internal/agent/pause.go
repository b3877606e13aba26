package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gatehousehq/gatehouse/internal/approval"
	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/authz"
	"github.com/gatehousehq/gatehouse/internal/ids"
	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/tools"
)

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

// Status of a held call's record while it waits.
const StatusAwaitingApproval = "awaiting_approval"

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

// hold records that an allowed call awaits approval (durable before the
// caller hears of it) and returns it as held.
func (r *Runner) hold(ctx context.Context, base audit.Event, log *runLog, t *Tool, c llm.ToolCall, args tools.Args, d authz.Decision) (ToolCallRecord, *Held, error) {
	rule := t.Policy.Approval
	rec := ToolCallRecord{ID: c.ID, Name: c.Name, Arguments: c.Arguments, Decision: "pending", Rule: d.Rule, Status: StatusAwaitingApproval}
	canon, err := CanonicalArgs(args)
	if err != nil {
		rec.Status = "not_run"
		return rec, nil, fmt.Errorf("encode arguments for approval: %w", err)
	}
	now := r.Now().UTC()
	h := &Held{ApprovalID: ids.New("apr_"), CallID: c.ID, Tool: c.Name, Arguments: canon, ArgsSHA256: approval.ArgsHash(canon),
		Approvers: rule.Approvers, CreatedAt: now, ExpiresAt: now.Add(rule.TTL)}
	rec.Reason = fmt.Sprintf("awaiting approval %s by a holder of %v", h.ApprovalID, rule.Approvers)
	ev := base
	ev.Type = audit.TypeApprovalRequested
	ev.Resource = "tool:" + c.Name
	ev.Rule = d.Rule + "; approval of " + c.Name
	if rule.WhenSource != "" {
		ev.Rule += " when " + rule.WhenSource
	}
	ev.Reason = "approval " + h.ApprovalID + " requested"
	ev.Outcome = "pending"
	ev.Content = map[string]string{"arguments": canon, "args_sha256": h.ArgsSHA256}
	if err := log.record(ctx, ev); err != nil {
		rec.Status = "not_run"
		return rec, nil, fmt.Errorf("record approval request: %w", err)
	}
	held := rec
	log.emit(Event{Type: EventToolDecided, Call: &held})
	return rec, h, nil
}

// Decision is a person's answer to a held call, as resuming needs it.
type Decision struct {
	Status  string // approval.StatusApproved | StatusDenied | StatusExpired
	By      string // who decided, for the record
	Comment string
}

// ResumeRequest continues a paused run.
type ResumeRequest struct {
	Run       RunRequest // Agent, Principal (the requester), RunID, SessionID, RequestID, Events
	Paused    *Paused
	Decisions map[string]Decision // by approval id
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

// resumeCall decides a held call again with its person's answer and runs
// it if it was approved.
func (r *Runner) resumeCall(ctx context.Context, rr ResumeRequest, base audit.Event, log *runLog, c llm.ToolCall, h Held) (string, ToolCallRecord, error) {
	req := rr.Run
	rec := ToolCallRecord{ID: c.ID, Name: c.Name, Arguments: h.Arguments, Decision: audit.Deny, Status: "denied"}
	ev := base
	ev.Type, ev.Resource = audit.TypeToolDecided, "tool:"+h.Tool
	ev.Content = map[string]string{"arguments": h.Arguments}
	dec := rr.Decisions[h.ApprovalID]
	name := "approval " + h.ApprovalID
	var d authz.Decision
	var args tools.Args
	t := req.Agent.Tools[h.Tool]
	switch {
	case t == nil:
		d = authz.Decision{Rule: name, Reason: "the tool is no longer configured for this agent"}
	case dec.Status == approval.StatusDenied:
		d = authz.Decision{Rule: name + " denied by " + dec.By, Reason: "a person denied this call"}
		if dec.Comment != "" {
			ev.Content["comment"] = dec.Comment
			d.Detail = dec.Comment
		}
	case dec.Status == approval.StatusExpired:
		d = authz.Decision{Rule: name + " expired", Reason: "nobody approved this call before its approval expired"}
	case dec.Status != approval.StatusApproved:
		d = authz.Decision{Rule: name, Reason: "the approval was not decided"}
	case approval.ArgsHash(h.Arguments) != h.ArgsSHA256:
		// The stored arguments are not the ones approved: never run them.
		d = authz.Decision{Rule: name, Reason: "the stored arguments do not match the approved hash"}
	default:
		var err error
		args, err = t.Decode([]byte(h.Arguments))
		if err != nil {
			d = authz.Decision{Rule: "argument schema of " + h.Tool, Reason: "invalid arguments", Detail: err.Error()}
			break
		}
		// The requester's permission and condition, checked again now:
		// a role revoked while the call waited is not overridden by it.
		d = r.Perms.AuthorizeTool(ctx, req.Principal, t.Policy, args)
		if d.Allow {
			d.Rule += "; " + name + " approved by " + dec.By
		}
	}
	rec.Rule, rec.Reason = d.Rule, d.Reason
	if d.Detail != "" {
		rec.Reason += ": " + d.Detail
		if dec.Status != approval.StatusDenied {
			ev.Content["error"] = d.Detail
		}
	}
	ev.Rule, ev.Reason, ev.Decision = d.Rule, d.Reason, audit.Deny
	if d.Allow {
		ev.Decision, rec.Decision, rec.Status = audit.Allow, audit.Allow, ""
	}
	if err := log.record(ctx, ev); err != nil {
		rec.Status = "not_run"
		return "", rec, fmt.Errorf("record tool decision: %w", err)
	}
	decided := rec
	log.emit(Event{Type: EventToolDecided, Call: &decided})
	if !d.Allow {
		kind := "not_authorized"
		if dec.Status == approval.StatusDenied || dec.Status == approval.StatusExpired {
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
	return r.execute(ctx, req, base, log, t, h.Tool, args, rec)
}
