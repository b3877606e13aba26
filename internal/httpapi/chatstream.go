package httpapi

import (
	"context"
	"net/http"
	"strings"

	"github.com/gatehousehq/gatehouse/internal/agent"
	"github.com/gatehousehq/gatehouse/internal/approval"
	"github.com/gatehousehq/gatehouse/internal/chat"
)

// wantsStream reports whether a /v1/chat caller asked for the run as
// server-sent events.
func wantsStream(r *http.Request, body bool) bool {
	return body || strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}

// streamEvent is one /v1/chat stream event's data.
type streamEvent struct {
	Type      string                `json:"type"`
	RunID     string                `json:"run_id"`
	SessionID string                `json:"session_id,omitempty"`
	Agent     string                `json:"agent,omitempty"`
	Content   string                `json:"content,omitempty"`
	ToolCall  *agent.ToolCallRecord `json:"tool_call,omitempty"`
	Outcome   string                `json:"outcome,omitempty"`
	Reason    string                `json:"reason,omitempty"`
	// run.finished of a run that ended well carries the /v1/chat answer.
	Result *chatResponse `json:"result,omitempty"`
	// error ends a stream that failed after it started.
	Error *errorBody `json:"error,omitempty"`
}

// streamChat serves /v1/chat as the run's events, each as it happens:
// run.started, message.delta, tool.decided, tool.finished, run.finished
// (the last, sent once the run's end and its session write are durable).
// A failure after the stream started is one "error" event.
func (s *Server) streamChat(w http.ResponseWriter, r *http.Request, creq chat.Request) {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	st := newSSE(w)
	var sessionID, agentName string
	creq.OnEvent = func(ev chat.Event) {
		if ev.Type == chat.EventStarted {
			sessionID, agentName = ev.SessionID, ev.Agent
		}
	}
	creq.OnRunEvent = func(ev agent.Event) {
		se := streamEvent{Type: string(ev.Type), RunID: ev.RunID, Content: ev.Content, ToolCall: ev.Call, Outcome: ev.Outcome, Reason: ev.Reason}
		switch ev.Type {
		case agent.EventRunStarted:
			se.SessionID, se.Agent = sessionID, agentName
		case agent.EventRunFinished:
			return // sent below, once the session is stored
		}
		if st.named(se.Type, se) != nil {
			cancel()
		}
	}
	res, err := s.chat(r).Run(ctx, creq)
	if err != nil {
		if st.started {
			ae := toAPIError(err)
			info := infoFrom(r.Context())
			_ = st.named("error", streamEvent{Type: "error", Error: &errorBody{Detail: ae.Detail, Error: ae.Code, RequestID: info.requestID, RunID: ae.RunID}})
			return
		}
		writeError(w, r, err)
		return
	}
	if res.Status == approval.RunAwaiting {
		// The run pauses here; GET /v1/runs/{id} follows it from now on.
		_ = st.named("approval.requested", awaiting(res))
		return
	}
	_ = st.named(string(agent.EventRunFinished), streamEvent{Type: string(agent.EventRunFinished), RunID: res.RunID, SessionID: res.SessionID,
		Agent: res.Agent, Outcome: agent.OutcomeOK, Result: &chatResponse{
			Response: res.Response, RunID: res.RunID, SessionID: res.SessionID, Agent: res.Agent, Model: res.Model,
			ToolCalls: res.ToolCalls, Usage: usage{res.Usage.PromptTokens, res.Usage.CompletionTokens, res.Usage.TotalTokens},
		}})
}
