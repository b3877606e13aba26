package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/gatehousehq/gatehouse/internal/agent"
	"github.com/gatehousehq/gatehouse/internal/chat"
	"github.com/gatehousehq/gatehouse/internal/principal"
	"github.com/gatehousehq/gatehouse/internal/tools/schema"
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
// object, and turn invalid UTF-8 or a lone surrogate escape into U+FFFD:
// what a proxy or WAF in front of gatehouse reads must be what runs.
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
	// encoding/json would turn invalid UTF-8 and lone surrogates into U+FFFD.
	if err := schema.CheckUnicode(body); err != nil {
		return req, errBadRequest("malformed JSON: " + err.Error())
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
			return req, errBadRequest("malformed JSON: unknown field " + quoteInput(key))
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

// handleChat serves POST /chat (tutorial shape) and POST /v1/chat.
func (s *Server) handleChat(tutorial bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := infoFrom(r.Context())
		req, err := decodeChat(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if tutorial && (req.SessionID != "" || req.Agent != "") {
			writeError(w, r, errBadRequest("/chat takes only 'message'; use /v1/chat for sessions and agents"))
			return
		}
		res, err := s.chat(r).Run(r.Context(), chat.Request{
			Principal: principal.From(r.Context()), Agent: req.Agent, SessionID: req.SessionID,
			Message: req.Message, RequestID: info.requestID, Before: info.take(),
		})
		if err != nil {
			writeError(w, r, err)
			return
		}
		if tutorial {
			respond(w, r, http.StatusOK, tutorialChatResponse{Authenticated: true, Response: res.Response, RunID: res.RunID, SessionID: res.SessionID})
			return
		}
		respond(w, r, http.StatusOK, chatResponse{
			Response: res.Response, RunID: res.RunID, SessionID: res.SessionID, Agent: res.Agent, Model: res.Model,
			ToolCalls: res.ToolCalls,
			Usage:     usage{res.Usage.PromptTokens, res.Usage.CompletionTokens, res.Usage.TotalTokens},
		})
	})
}
