package httpapi

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/gatehousehq/gatehouse/internal/agent"
	"github.com/gatehousehq/gatehouse/internal/approval"
	"github.com/gatehousehq/gatehouse/internal/chat"
	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/openaiwire"
	"github.com/gatehousehq/gatehouse/internal/principal"
)

// agentResponse runs an agent for a Responses request, exactly as
// /v1/chat/completions runs it: stateless, the conversation as the
// request (and previous_response_id) give it.
func (s *Server) agentResponse(w http.ResponseWriter, r *http.Request, ag *agent.Agent, c *respCall) {
	info := infoFrom(r.Context())
	if len(c.req.Tools) > 0 || c.req.ToolChoice != nil {
		writeError(w, r, errParam("tools", "an agent runs its own tools; tools and tool_choice are for pass-through models"))
		return
	}
	history, message, err := agentConversation(c.conversation())
	if err != nil {
		if ae, ok := err.(*apiError); ok {
			ae.Param = "input"
		}
		writeError(w, r, err)
		return
	}
	ctx := r.Context()
	creq := chat.Request{Principal: principal.From(r.Context()), Agent: ag.Name, Stateless: true, History: history,
		Message: message, RequestID: info.requestID, Before: info.take()}
	var st *respStream
	if c.req.Stream {
		// A stream the client stops reading ends the run.
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		st = newRespStream(w, c)
		creq.OnEvent = func(ev chat.Event) {
			if ev.Type == chat.EventStarted {
				runHeaders(w, r, ev.RunID)
				if st.start() != nil {
					cancel()
				}
			}
		}
		creq.OnRunEvent = func(ev agent.Event) {
			if ev.Type == agent.EventMessageDelta && ev.Content != "" && st.content(ev.Content) != nil {
				cancel() // the client is gone: the run stops and its end is recorded
			}
		}
	}
	res, err := s.chat(r).Run(ctx, creq)
	if err != nil {
		if st != nil && st.begun {
			st.fail(toAPIError(err))
			return
		}
		writeError(w, r, err)
		return
	}
	text := res.Response
	if res.Status == approval.RunAwaiting {
		text = awaitingText(res)
	}
	gi := agentInfo(res)
	if st == nil {
		runHeaders(w, r, res.RunID)
		s.finish(w, r, c, responseBody{Response: c.responseObject("completed", outputItems(llm.Message{Content: text}), &res.Usage), Gatehouse: gi})
		return
	}
	switch {
	case res.Status == approval.RunAwaiting:
		_ = st.content(text)
	case st.msg == nil:
		_ = st.content(res.Response)
	}
	s.endStream(r, st, c, nil, res.Usage, gi)
}

// endStream sends the released calls, stores the response when asked, and
// ends the stream with response.completed.
func (s *Server) endStream(r *http.Request, st *respStream, c *respCall, calls []llm.ToolCall, u llm.Usage, gi *gatehouseInfo) {
	_ = st.start()
	if st.msg == nil && len(calls) == 0 {
		_ = st.openMessage()
	}
	_ = st.closeMessage()
	for _, call := range calls {
		_ = st.call(call)
	}
	body := responseBody{Response: c.responseObject("completed", st.items, &u), Gatehouse: gi}
	if err := s.keep(r.Context(), principal.From(r.Context()), c, body); err != nil {
		st.fail(toAPIError(err))
		return
	}
	st.completed(body)
}

// handleGetResponse serves GET /v1/responses/{id}: the caller's own
// stored response, as it was answered.
func (s *Server) handleGetResponse() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sr, err := s.ownResponse(r, r.PathValue("id"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		respond(w, r, http.StatusOK, json.RawMessage(sr.Body))
	})
}

// handleDeleteResponse serves DELETE /v1/responses/{id}.
func (s *Server) handleDeleteResponse() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if _, err := s.ownResponse(r, id); err != nil {
			writeError(w, r, err)
			return
		}
		if err := s.Responses.DeleteResponse(r.Context(), id, principal.From(r.Context()).Key()); err != nil {
			writeError(w, r, err)
			return
		}
		respond(w, r, http.StatusOK, openaiwire.DeletedResponse{ID: id, Object: "response", Deleted: true})
	})
}
