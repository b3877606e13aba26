package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/gatehousehq/gatehouse/internal/agent"
	"github.com/gatehousehq/gatehouse/internal/approval"
	"github.com/gatehousehq/gatehouse/internal/chat"
	"github.com/gatehousehq/gatehouse/internal/principal"
)

type chatRequest struct {
	Message   string `json:"message"`
	SessionID string `json:"session_id,omitempty"`
	Agent     string `json:"agent,omitempty"`
	// Stream asks for the run's events (also Accept: text/event-stream).
	Stream bool `json:"stream,omitempty"`
}

type tutorialChatResponse struct {
	Authenticated bool   `json:"authenticated"`
	Response      string `json:"response"`
	RunID         string `json:"run_id"`
	SessionID     string `json:"session_id"`
}

type chatResponse struct {
	Response  string                 `json:"response"`
	RunID     string                 `json:"run_id"`
	SessionID string                 `json:"session_id"`
	Agent     string                 `json:"agent"`
	Model     string                 `json:"model"`
	ToolCalls []agent.ToolCallRecord `json:"tool_calls"`
	Usage     usage                  `json:"usage"`
	// AuditEvents are the run's audit event ids, for receipts.
	AuditEvents []string `json:"audit_events,omitempty"`
}

type usage struct {
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	TotalTokens      int64 `json:"total_tokens"`
}

// decodeChat reads the chat request: exactly one JSON object with the
// members chatRequest names, spelt exactly, each once, strings (stream a
// boolean). Stricter than encoding/json, which would also take "MESSAGE"
// for "message", keep the last of two equal names, accept trailing data and
// turn invalid UTF-8 or a lone surrogate escape into U+FFFD: what a proxy
// or WAF in front of gatehouse reads must be what runs (readBody).
func decodeChat(r *http.Request) (chatRequest, error) {
	var req chatRequest
	body, err := readBody(r)
	if err != nil {
		return req, err
	}
	obj, err := strictObject(body, []string{"message", "session_id", "agent", "stream"})
	if err != nil {
		return req, err
	}
	for name, dst := range map[string]*string{"message": &req.Message, "session_id": &req.SessionID, "agent": &req.Agent} {
		if raw, ok := obj[name]; ok {
			if err := json.Unmarshal(raw, dst); err != nil {
				return req, errBadRequest(fmt.Sprintf("field %q must be a string", name))
			}
		}
	}
	if raw, ok := obj["stream"]; ok {
		if err := json.Unmarshal(raw, &req.Stream); err != nil {
			return req, errBadRequest(`field "stream" must be a boolean`)
		}
	}
	return req, nil
}

// handleChat serves POST /chat (tutorial shape) and POST /v1/chat.
func (s *Server) handleChat(tutorial bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := infoFrom(r.Context())
		req, err := decodeChat(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if tutorial && (req.SessionID != "" || req.Agent != "" || req.Stream) {
			writeError(w, r, errBadRequest("/chat takes only 'message'; use /v1/chat for sessions, agents and streaming"))
			return
		}
		creq := chat.Request{
			Principal: principal.From(r.Context()), Agent: req.Agent, SessionID: req.SessionID,
			Message: req.Message, RequestID: info.requestID, Before: info.take(),
		}
		if !tutorial && wantsStream(r, req.Stream) {
			s.streamChat(w, r, creq)
			return
		}
		res, err := s.chat(r).Run(r.Context(), creq)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if res.Status == approval.RunAwaiting {
			respond(w, r, http.StatusAccepted, awaiting(res))
			return
		}
		if tutorial {
			respond(w, r, http.StatusOK, tutorialChatResponse{Authenticated: true, Response: res.Response, RunID: res.RunID, SessionID: res.SessionID})
			return
		}
		respond(w, r, http.StatusOK, chatResponse{
			Response: res.Response, RunID: res.RunID, SessionID: res.SessionID, Agent: res.Agent, Model: res.Model,
			ToolCalls: res.ToolCalls, AuditEvents: res.AuditEvents,
			Usage: usage{res.Usage.PromptTokens, res.Usage.CompletionTokens, res.Usage.TotalTokens},
		})
	})
}
