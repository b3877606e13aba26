package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/gatehousehq/gatehouse/internal/agent"
	"github.com/gatehousehq/gatehouse/internal/approval"
	"github.com/gatehousehq/gatehouse/internal/chat"
	"github.com/gatehousehq/gatehouse/internal/principal"
)

// approvalJSON is one approval as callers see it.
type approvalJSON struct {
	ID          string              `json:"id"`
	RunID       string              `json:"run_id"`
	Tool        string              `json:"tool"`
	Arguments   string              `json:"arguments"` // canonical JSON; args_sha256 is its SHA-256
	ArgsSHA256  string              `json:"args_sha256"`
	RequestedBy approval.Requester  `json:"requested_by"`
	Approvers   []string            `json:"approvers"`
	CreatedAt   time.Time           `json:"created_at"`
	ExpiresAt   time.Time           `json:"expires_at"`
	Status      string              `json:"status"`
	DecidedBy   *approval.Requester `json:"decided_by,omitempty"`
	Comment     string              `json:"comment,omitempty"`
}

func toApprovalJSON(a approval.Approval) approvalJSON {
	j := approvalJSON{ID: a.ID, RunID: a.RunID, Tool: a.Tool, Arguments: a.Arguments, ArgsSHA256: a.ArgsSHA256,
		RequestedBy: a.RequestedBy, Approvers: a.Approvers, CreatedAt: a.CreatedAt, ExpiresAt: a.ExpiresAt, Status: a.Status, Comment: a.Comment}
	if a.DecidedBy.Subject != "" {
		by := a.DecidedBy
		j.DecidedBy = &by
	}
	return j
}

func approvalsJSON(as []approval.Approval) []approvalJSON {
	out := make([]approvalJSON, 0, len(as))
	for _, a := range as {
		out = append(out, toApprovalJSON(a))
	}
	return out
}

// awaitingResponse is /v1/chat's 202: the run paused at these approvals.
type awaitingResponse struct {
	Status    string                 `json:"status"`
	RunID     string                 `json:"run_id"`
	SessionID string                 `json:"session_id"`
	Agent     string                 `json:"agent"`
	Approvals []approvalJSON         `json:"approvals"`
	ToolCalls []agent.ToolCallRecord `json:"tool_calls"`
}

func awaiting(res *chat.Result) awaitingResponse {
	return awaitingResponse{Status: approval.RunAwaiting, RunID: res.RunID, SessionID: res.SessionID, Agent: res.Agent,
		Approvals: approvalsJSON(res.Approvals), ToolCalls: res.ToolCalls}
}

// runResponse is GET /v1/runs/{id}.
type runResponse struct {
	RunID     string                 `json:"run_id"`
	Status    string                 `json:"status"`
	SessionID string                 `json:"session_id"`
	Agent     string                 `json:"agent"`
	Approvals []approvalJSON         `json:"approvals,omitempty"`
	Response  string                 `json:"response,omitempty"`
	Model     string                 `json:"model,omitempty"`
	ToolCalls []agent.ToolCallRecord `json:"tool_calls,omitempty"`
	Usage     *usage                 `json:"usage,omitempty"`
	Error     string                 `json:"error,omitempty"`
}

func toRunResponse(rs *approval.Status) (runResponse, error) {
	out := runResponse{RunID: rs.Run.ID, Status: rs.Status, SessionID: rs.Run.SessionID, Agent: rs.Run.Agent, Error: rs.Error}
	if len(rs.Approvals) > 0 {
		out.Approvals = approvalsJSON(rs.Approvals)
	}
	if rs.Status == approval.RunCompleted {
		var res agent.RunResult
		if err := json.Unmarshal(rs.Result, &res); err != nil {
			return out, fmt.Errorf("run %s: unreadable result", rs.Run.ID)
		}
		out.Response, out.Model, out.ToolCalls = res.Response, res.Model, res.ToolCalls
		out.Usage = &usage{res.Usage.PromptTokens, res.Usage.CompletionTokens, res.Usage.TotalTokens}
	}
	return out, nil
}

// runStatus is the caller's own run as GET /v1/runs/{id} shows it.
func (s *Server) runStatus(r *http.Request) (runResponse, error) {
	rs, err := s.approvals.RunStatus(r.Context(), principal.From(r.Context()).Key(), r.PathValue("id"))
	if err != nil {
		return runResponse{}, err
	}
	return toRunResponse(rs)
}

// handleGetRun serves GET /v1/runs/{id}: the caller's own run (anyone
// else's is 404). With Accept: text/event-stream it streams the run's
// status as run.status events until it is completed or failed.
func (s *Server) handleGetRun() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rs, err := s.runStatus(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if !wantsStream(r, false) {
			respond(w, r, http.StatusOK, rs)
			return
		}
		st := newSSE(w)
		last := ""
		tick := time.NewTicker(runPollInterval)
		defer tick.Stop()
		for {
			if rs.Status != last {
				if st.named("run.status", rs) != nil {
					return
				}
				last = rs.Status
			}
			if rs.Status == approval.RunCompleted || rs.Status == approval.RunFailed {
				return
			}
			select {
			case <-r.Context().Done():
				return
			case <-tick.C:
			}
			if rs, err = s.runStatus(r); err != nil {
				return
			}
		}
	})
}

// runPollInterval is how often a run's event stream looks at the store:
// the run may be resumed on another replica.
const runPollInterval = 250 * time.Millisecond

// handleListApprovals serves GET /v1/approvals: the pending approvals the
// caller may decide.
func (s *Server) handleListApprovals() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.approvals == nil {
			writeError(w, r, errNotFound)
			return
		}
		as, err := s.approvals.List(r.Context(), principal.From(r.Context()))
		if err != nil {
			writeError(w, r, err)
			return
		}
		respond(w, r, http.StatusOK, map[string]any{"approvals": approvalsJSON(as)})
	})
}

type decideRequest struct {
	Decision   string `json:"decision"`
	ArgsSHA256 string `json:"args_sha256"`
	Comment    string `json:"comment"`
}

// handleDecide serves POST /v1/approvals/{id}.
func (s *Server) handleDecide() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.approvals == nil {
			writeError(w, r, errNotFound)
			return
		}
		body, err := readBody(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		obj, err := strictObject(body, []string{"decision", "args_sha256", "comment"})
		if err != nil {
			writeError(w, r, err)
			return
		}
		var req decideRequest
		for name, dst := range map[string]*string{"decision": &req.Decision, "args_sha256": &req.ArgsSHA256, "comment": &req.Comment} {
			if raw, ok := obj[name]; ok {
				if err := json.Unmarshal(raw, dst); err != nil {
					writeError(w, r, errBadRequest(fmt.Sprintf("field %q must be a string", name)))
					return
				}
			}
		}
		if req.ArgsSHA256 == "" {
			writeError(w, r, errBadRequest(`field "args_sha256" is required: the SHA-256 of the arguments you were shown`))
			return
		}
		a, err := s.approvals.Decide(r.Context(), approval.DecideRequest{Principal: principal.From(r.Context()),
			RequestID: infoFrom(r.Context()).requestID, ID: r.PathValue("id"), Decision: req.Decision,
			ArgsSHA256: req.ArgsSHA256, Comment: req.Comment})
		if err != nil {
			writeError(w, r, err)
			return
		}
		respond(w, r, http.StatusOK, toApprovalJSON(a))
	})
}
