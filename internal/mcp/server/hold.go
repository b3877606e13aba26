package server

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gatehousehq/gatehouse/internal/agent"
	"github.com/gatehousehq/gatehouse/internal/approval"
	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/authz"
	"github.com/gatehousehq/gatehouse/internal/gate"
	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/principal"
	"github.com/gatehousehq/gatehouse/internal/runs"
)

// heldCall is a /mcp tools/call held for approval, as stored: what running
// it as the requester once approved needs.
type heldCall struct {
	Principal *principal.Principal `json:"principal"`
	RequestID string               `json:"request_id,omitempty"`
	Call      llm.ToolCall         `json:"call"`
}

// hold stores a held call as a paused run of one call; the caller is told
// it awaits approval, with the approval's id and how to follow it.
func (s *service) hold(ctx context.Context, c *Caller, base audit.Event, d gate.Decision) (*mcp.CallToolResult, error) {
	state, err := json.Marshal(heldCall{Principal: c.Principal, RequestID: c.RequestID, Call: d.Call})
	if err != nil {
		return nil, err
	}
	a := d.Held.Approval(base.RunID, c.Principal)
	run := approval.Run{ID: base.RunID, Owner: c.Principal.Key(), Kind: approval.KindMCP, Agent: d.Tool.Policy.Tool, State: state}
	if err := approval.Pause(ctx, c.Approvals, s.cfg.Now(), run, []approval.Approval{a}); err != nil {
		return nil, fmt.Errorf("hold the call for approval: %w", err)
	}
	return awaiting(base.RunID, []approval.Approval{a}), nil
}

// awaitingResult is the structured part of a held call's answer.
type awaitingResult struct {
	Status    string          `json:"status"`
	RunID     string          `json:"run_id"`
	Approvals []awaitingEntry `json:"approvals"`
	Follow    string          `json:"follow"`
}

type awaitingEntry struct {
	ID         string    `json:"id"`
	Tool       string    `json:"tool"`
	ArgsSHA256 string    `json:"args_sha256"`
	Approvers  []string  `json:"approvers"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// awaiting is the answer to a call that waits for a person: not an error
// (nothing failed), but plainly not done.
func awaiting(runID string, as []approval.Approval) *mcp.CallToolResult {
	out := awaitingResult{Status: approval.RunAwaiting, RunID: runID, Follow: "GET /v1/runs/" + runID}
	var b strings.Builder
	b.WriteString("Not run yet: this call awaits human approval.")
	for _, a := range as {
		out.Approvals = append(out.Approvals, awaitingEntry{ID: a.ID, Tool: a.Tool, ArgsSHA256: a.ArgsSHA256, Approvers: a.Approvers, ExpiresAt: a.ExpiresAt})
		fmt.Fprintf(&b, " %s: approval %s, by a holder of %s, expires %s.", a.Tool, a.ID, strings.Join(a.Approvers, " or "), a.ExpiresAt.Format(time.RFC3339))
	}
	fmt.Fprintf(&b, " Once decided it runs on the server, once; GET /v1/runs/%s gives its status and result.", runID)
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: b.String()}}, StructuredContent: out}
}

// Continuer runs held /mcp calls once decided (approval.KindMCP), with the
// live config's tools.
type Continuer struct {
	Tools       map[string]*agent.Tool
	Gate        *gate.Gate
	Exec        *gate.Executor
	Audit       audit.Sink
	ToolTimeout time.Duration
	Now         func() time.Time
}

func (k *Continuer) now() time.Time {
	if k.Now != nil {
		return k.Now()
	}
	return time.Now()
}

// Lease is the call's own time bound.
func (k *Continuer) Lease(approval.Run) time.Duration { return k.ToolTimeout }

// Continue decides the held call again (approved, same hash, still
// allowed for the requester under the live policy), runs it once, and
// stores its result as the run's.
func (k *Continuer) Continue(ctx context.Context, run approval.Run, as []approval.Approval, claim func(context.Context, string) (bool, error)) (approval.Continued, error) {
	var h heldCall
	if err := json.Unmarshal(run.State, &h); err != nil || h.Principal == nil || len(as) != 1 {
		return approval.Continued{}, fmt.Errorf("held call %s: unreadable state", run.ID)
	}
	base := audit.Event{RequestID: h.RequestID, RunID: run.ID}.By(h.Principal)
	start := k.now()
	d := k.Gate.Recheck(ctx, gate.Input{Door: gate.DoorMCPCall, Principal: h.Principal, Base: base, Declared: k.Tools, Call: h.Call}, as[0])
	frame := runs.Frame{Resource: d.Event.Resource}
	if d.Allowed() {
		won, err := claim(ctx, as[0].ID)
		if err != nil {
			return approval.Continued{}, err
		}
		if !won {
			d = d.Refused(authzAlreadyRun(as[0].ID))
		}
	}
	evs := []audit.Event{runs.Started(base, frame, audit.TypeRunResumed, "mcp tools/call", nil), d.Event}
	if !d.Allowed() {
		evs = append(evs, runs.Finished(base, frame, start, k.now(), runs.End{Outcome: "refused", Reason: d.Event.Reason}))
	}
	if err := k.Audit.Record(ctx, evs...); err != nil {
		return approval.Continued{}, err
	}
	rec := agent.RecordOf(d)
	res := agent.RunResult{Model: "", ToolCalls: []agent.ToolCallRecord{rec}}
	if d.Allowed() {
		out := k.Exec.Execute(ctx, gate.Run{Decision: d, Principal: h.Principal, Base: base, Timeout: k.ToolTimeout})
		fin := runs.Finished(base, frame, start, k.now(), runs.End{Outcome: out.Status})
		if err := k.Audit.Record(context.WithoutCancel(ctx), append(out.Events(), fin)...); err != nil {
			return approval.Continued{}, err
		}
		res.ToolCalls[0].Status, res.Response = out.Status, out.Content
	}
	b, err := json.Marshal(res)
	return approval.Continued{Result: b}, err
}

func authzAlreadyRun(id string) authz.Decision {
	return authz.Decision{Rule: "approval " + id, Reason: "the approved call was already run"}
}
