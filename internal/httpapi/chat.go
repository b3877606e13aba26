package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gatehousehq/gatehouse/internal/agent"
	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/principal"
	"github.com/gatehousehq/gatehouse/internal/session"
)

type chatRequest struct {
	Message   string `json:"message"`
	SessionID string `json:"session_id,omitempty"`
	Agent     string `json:"agent,omitempty"`
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
}

type usage struct {
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	TotalTokens      int64 `json:"total_tokens"`
}

// decodeChat reads the chat request: exactly one JSON object whose members
// are strings named as chatRequest names them. Stricter than encoding/json,
// which would also take "MESSAGE" for "message", keep the last of two equal
// names, and — with Decoder.More — accept a stray "]" or "}" after the
// object: what a proxy or WAF in front of gatehouse reads must be what runs.
func decodeChat(r *http.Request) (chatRequest, error) {
	var req chatRequest
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return req, errTooLarge
		}
		return req, errBadRequest("could not read the request body")
	}
	fields := map[string]*string{"message": &req.Message, "session_id": &req.SessionID, "agent": &req.Agent}
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return req, errBadRequest("malformed JSON: the body must be one JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return req, errBadRequest("malformed JSON: " + err.Error())
		}
		key, _ := tok.(string)
		dst, ok := fields[key]
		if !ok {
			return req, errBadRequest(fmt.Sprintf("malformed JSON: unknown field %q", truncate(key, 40)))
		}
		if seen[key] {
			return req, errBadRequest(fmt.Sprintf("malformed JSON: field %q given twice", key))
		}
		seen[key] = true
		if err := dec.Decode(dst); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				return req, errBadRequest(fmt.Sprintf("malformed JSON: field %q must be a string", key))
			}
			return req, errBadRequest("malformed JSON: " + err.Error())
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return req, errBadRequest("malformed JSON: the object is not closed properly")
	}
	if _, err := dec.Token(); err != io.EOF {
		return req, errBadRequest("malformed JSON: more than one value")
	}
	return req, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// handleChat serves POST /chat (tutorial shape) and POST /v1/chat.
func (s *Server) handleChat(tutorial bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt := s.runtime(r)
		info := infoFrom(r.Context())
		p := principal.From(r.Context())
		req, err := decodeChat(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if req.Message == "" {
			writeError(w, r, errBadRequest("field 'message' is required"))
			return
		}
		if tutorial && (req.SessionID != "" || req.Agent != "") {
			writeError(w, r, errBadRequest("/chat takes only 'message'; use /v1/chat for sessions and agents"))
			return
		}
		name := req.Agent
		if name == "" {
			name = rt.DefaultAgent
		}
		ag, ok := rt.Agents[name]
		if !ok {
			writeError(w, r, &apiError{Status: http.StatusNotFound, Code: "unknown_agent", Detail: fmt.Sprintf("no agent named %q", name)})
			return
		}
		var history []llm.Message
		sessionID := req.SessionID
		if sessionID != "" {
			sess, err := s.Sessions.Get(r.Context(), sessionID, p.Key())
			if errors.Is(err, session.ErrNotFound) {
				s.sessionDenied(r, p, sessionID)
				writeError(w, r, errNotFound)
				return
			}
			if err != nil {
				writeError(w, r, err)
				return
			}
			if sess.Agent != ag.Name {
				writeError(w, r, errBadRequest(fmt.Sprintf("session belongs to agent %q", sess.Agent)))
				return
			}
			if full := sessionFull(rt, sess.Messages); full != "" {
				writeError(w, r, &apiError{Status: http.StatusConflict, Code: "session_full",
					Detail: "The session is full (" + full + "); start a new one"})
				return
			}
			history = fromSession(sess.Messages)
		}
		newSession := sessionID == ""
		if newSession {
			sessionID = newID("ses_")
		}
		if n := s.runs.Add(1); rt.MaxConcurrentRuns > 0 && n > int64(rt.MaxConcurrentRuns) {
			s.runs.Add(-1)
			writeError(w, r, errOverloaded)
			return
		}
		defer s.runs.Add(-1)
		runID := newID("run_")
		res, err := rt.Runner.Run(r.Context(), agent.RunRequest{
			Agent: ag, Principal: p, Message: req.Message, History: history,
			RequestID: info.requestID, RunID: runID, SessionID: sessionID,
			Before: info.take(),
		})
		if err != nil {
			ae := *toAPIError(err)
			ae.RunID = runID
			writeError(w, r, &ae)
			return
		}
		// A new session is written once, with its first messages.
		if newSession {
			now := time.Now().UTC()
			err = s.Sessions.Create(r.Context(), &session.Session{ID: sessionID, Subject: p.Key(), Agent: ag.Name,
				Created: now, Updated: now, Messages: toSession(res.Messages)})
		} else {
			err = s.Sessions.Append(r.Context(), sessionID, p.Key(), toSession(res.Messages)...)
		}
		if err != nil {
			writeError(w, r, err)
			return
		}
		if tutorial {
			respond(w, r, http.StatusOK, tutorialChatResponse{Authenticated: true, Response: res.Response, RunID: runID, SessionID: sessionID})
			return
		}
		calls := res.ToolCalls
		if calls == nil {
			calls = []agent.ToolCallRecord{}
		}
		respond(w, r, http.StatusOK, chatResponse{
			Response: res.Response, RunID: runID, SessionID: sessionID, Agent: ag.Name, Model: res.Model,
			ToolCalls: calls,
			Usage:     usage{res.Usage.PromptTokens, res.Usage.CompletionTokens, res.Usage.TotalTokens},
		})
	})
}

// sessionFull says which bound a session's history has reached, or "".
func sessionFull(rt *Runtime, msgs []session.Message) string {
	if rt.SessionMaxMessages > 0 && len(msgs) >= rt.SessionMaxMessages {
		return fmt.Sprintf("%d messages, the most sessions.max_messages allows", len(msgs))
	}
	var n int64
	for _, m := range msgs {
		n += int64(len(m.Content) + len(m.ToolCallID))
		for _, tc := range m.ToolCalls {
			n += int64(len(tc.ID) + len(tc.Name) + len(tc.Arguments))
		}
	}
	if rt.SessionMaxBytes > 0 && n >= rt.SessionMaxBytes {
		return fmt.Sprintf("%d bytes of history, sessions.max_bytes is %d", n, rt.SessionMaxBytes)
	}
	return ""
}

// sessionDenied records an attempt on a session the caller does not own
// (or that does not exist); the answer is the same 404 either way, and
// writing it makes the event durable first.
func (s *Server) sessionDenied(r *http.Request, p *principal.Principal, id string) {
	info := infoFrom(r.Context())
	s.log.WarnContext(r.Context(), "session access denied", "request_id", info.requestID, "subject", p.Subject, "session_id", id)
	info.deferEvent(s.Audit, audit.Event{
		Type: audit.TypeSessionDenied, RequestID: info.requestID, SessionID: id,
		Decision: audit.Deny, Rule: "session owner", Reason: "no session with this id for this subject", Resource: "session:" + id,
	}.By(p))
}

func fromSession(ms []session.Message) []llm.Message {
	out := make([]llm.Message, 0, len(ms))
	for _, m := range ms {
		lm := llm.Message{Role: m.Role, Content: m.Content, ToolCallID: m.ToolCallID}
		for _, tc := range m.ToolCalls {
			lm.ToolCalls = append(lm.ToolCalls, llm.ToolCall{ID: tc.ID, Name: tc.Name, Arguments: tc.Arguments})
		}
		out = append(out, lm)
	}
	return out
}

func toSession(ms []llm.Message) []session.Message {
	now := time.Now().UTC()
	out := make([]session.Message, 0, len(ms))
	for _, m := range ms {
		sm := session.Message{Role: m.Role, Content: m.Content, ToolCallID: m.ToolCallID, Time: now}
		for _, tc := range m.ToolCalls {
			sm.ToolCalls = append(sm.ToolCalls, session.ToolCall{ID: tc.ID, Name: tc.Name, Arguments: tc.Arguments})
		}
		out = append(out, sm)
	}
	return out
}
