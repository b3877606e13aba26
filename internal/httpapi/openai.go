package httpapi

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse/internal/agent"
	"github.com/gatehousehq/gatehouse/internal/approval"
	"github.com/gatehousehq/gatehouse/internal/chat"
	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/openaiwire"
	"github.com/gatehousehq/gatehouse/internal/passthrough"
	"github.com/gatehousehq/gatehouse/internal/principal"
)

// handleModels serves GET /v1/models: the agents the caller may run and the
// pass-through models whose permission the caller holds, nothing else.
func (s *Server) handleModels() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt := s.runtime(r)
		p := principal.From(r.Context())
		created := rt.Loaded.Unix()
		list := openaiwire.ModelList{Object: "list", Data: []openaiwire.Model{}}
		for _, name := range slices.Sorted(maps.Keys(rt.Agents)) {
			list.Data = append(list.Data, openaiwire.Model{ID: name, Object: "model", Created: created, OwnedBy: "gatehouse"})
		}
		if pt := rt.Passthrough; pt != nil {
			for _, name := range slices.Sorted(maps.Keys(pt.Models)) {
				if rt.Perms.Has(p, pt.Models[name].Permission) {
					list.Data = append(list.Data, openaiwire.Model{ID: name, Object: "model", Created: created, OwnedBy: "gatehouse"})
				}
			}
		}
		respond(w, r, http.StatusOK, list)
	})
}

// completion is a whole answer, and completionChunk one event of a
// streamed one, each with gatehouse's extra top-level object.
type completion struct {
	openaiwire.ChatCompletion
	Gatehouse *gatehouseInfo `json:"gatehouse,omitempty"`
}

type completionChunk struct {
	openaiwire.ChatCompletionChunk
	Gatehouse *gatehouseInfo `json:"gatehouse,omitempty"`
}

// gatehouseInfo is the extra top-level object: what gatehouse decided.
type gatehouseInfo struct {
	RunID     string                 `json:"run_id"`
	Agent     string                 `json:"agent,omitempty"`
	Model     string                 `json:"model,omitempty"`
	ToolCalls []agent.ToolCallRecord `json:"tool_calls"`
	// Pass-through only: the tools shown to the model and those removed.
	OfferedTools []string `json:"offered_tools,omitempty"`
	RemovedTools []string `json:"removed_tools,omitempty"`
	Refused      bool     `json:"refused,omitempty"`
	// A run paused for human approval: status awaiting_approval and the
	// approvals it waits for (GET /v1/runs/{run_id} follows it).
	Status    string         `json:"status,omitempty"`
	Approvals []approvalJSON `json:"approvals,omitempty"`
	// AuditEvents are the run's audit event ids, for receipts.
	AuditEvents []string `json:"audit_events,omitempty"`
}

// agentInfo is the gatehouse object of an agent run.
func agentInfo(res *chat.Result) *gatehouseInfo {
	gi := &gatehouseInfo{RunID: res.RunID, Agent: res.Agent, Model: res.Model, ToolCalls: res.ToolCalls, AuditEvents: res.AuditEvents}
	if res.Status == approval.RunAwaiting {
		gi.Status, gi.Approvals = res.Status, approvalsJSON(res.Approvals)
	}
	return gi
}

// awaitingText is the assistant message of a run paused for approval.
func awaitingText(res *chat.Result) string {
	var b strings.Builder
	b.WriteString("This request awaits human approval before it can continue:")
	for _, a := range res.Approvals {
		fmt.Fprintf(&b, " %s (approval %s, by a holder of %s, expires %s);", a.Tool, a.ID, strings.Join(a.Approvers, " or "), a.ExpiresAt.Format(time.RFC3339))
	}
	fmt.Fprintf(&b, " the run %s continues on the server once decided (GET /v1/runs/%s).", res.RunID, res.RunID)
	return b.String()
}

// handleCompletions serves POST /v1/chat/completions: an agent's name runs
// the agent here; a pass-through model goes upstream under governance.
func (s *Server) handleCompletions() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt := s.runtime(r)
		req, err := decodeCompletion(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if ag, ok := rt.Agents[req.Model]; ok {
			s.agentCompletion(w, r, ag, req)
			return
		}
		if rt.Passthrough != nil {
			if _, ok := rt.Passthrough.Models[req.Model]; ok {
				run, err := s.door(rt).Admit()
				if err != nil {
					writeError(w, r, err)
					return
				}
				defer run.Done()
				s.passthroughCompletion(w, r, rt, req, run.ID)
				return
			}
		}
		writeError(w, r, &apiError{Status: http.StatusNotFound, Code: "model_not_found", Param: "model",
			Detail: fmt.Sprintf("The model %s does not exist or you do not have access to it", quoteInput(req.Model))})
	})
}

func (s *Server) passthroughCompletion(w http.ResponseWriter, r *http.Request, rt *Runtime, req *openaiwire.ChatRequest, runID string) {
	info := infoFrom(r.Context())
	p := principal.From(r.Context())
	id := "chatcmpl-" + runID
	created := time.Now().Unix()
	ctx := r.Context()
	var stream *sse
	preq := passthrough.Request{
		Principal: p, Model: req.Model, Messages: llmMessages(req.Messages), Tools: offeredTools(req.Tools), Options: llmOptions(req),
		RequestID: info.requestID, RunID: runID, Before: info.take(),
	}
	var cs *chunkStream
	if req.Stream {
		// A stream the client stops reading ends the run (stopOnWriteError).
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		stream = newSSE(w)
		cs = &chunkStream{sse: stream, id: id, created: created, model: req.Model}
		preq.OnContent = stopOnWriteError(cs.content, cancel)
	}
	res, err := rt.Passthrough.Complete(ctx, preq)
	if err != nil {
		ae := *toAPIError(err)
		ae.RunID = runID
		if stream != nil && stream.started {
			_ = stream.data(openAIErrorBody(&ae))
			return
		}
		writeError(w, r, &ae)
		return
	}
	gi := passthroughInfo(runID, req.Model, res)
	finish := res.FinishReason
	if stream == nil {
		msg := openaiwire.Message{Role: "assistant", ToolCalls: wireCalls(res.Message.ToolCalls, false)}
		if res.Message.Content != "" || len(res.Message.ToolCalls) == 0 {
			msg.Content = (*openaiwire.Content)(&res.Message.Content)
		}
		respond(w, r, http.StatusOK, completion{ChatCompletion: openaiwire.ChatCompletion{ID: id, Object: "chat.completion", Created: created,
			Model: req.Model, Choices: []openaiwire.Choice{{Message: msg, FinishReason: finish}}, Usage: wireUsage(res.Usage)}, Gatehouse: gi})
		return
	}
	// The held tool calls go out only now: every one was allowed and its
	// decision is durable. A refusal is sent as the assistant's text.
	if res.Refused {
		_ = stream.data(cs.chunk(openaiwire.Message{Role: "assistant", Content: openaiwire.Text(res.Message.Content)}, nil))
	}
	if len(res.Message.ToolCalls) > 0 {
		_ = stream.data(cs.chunk(openaiwire.Message{Role: "assistant", ToolCalls: wireCalls(res.Message.ToolCalls, true)}, nil))
	}
	last := cs.chunk(openaiwire.Message{}, &finish)
	last.Gatehouse = gi
	cs.end(last, includeUsage(req), res.Usage)
}

// agentCompletion runs an agent for a chat completion request, exactly
// as /v1/chat runs it, without a stored session: the client holds the
// conversation and sends it whole.
func (s *Server) agentCompletion(w http.ResponseWriter, r *http.Request, ag *agent.Agent, req *openaiwire.ChatRequest) {
	info := infoFrom(r.Context())
	history, message, err := agentConversation(llmMessages(req.Messages))
	if err != nil {
		writeError(w, r, err)
		return
	}
	if len(req.Tools) > 0 || req.ToolChoice != nil {
		writeError(w, r, errParam("tools", "an agent runs its own tools; tools and tool_choice are for pass-through models"))
		return
	}
	created := time.Now().Unix()
	creq := chat.Request{
		Principal: principal.From(r.Context()), Agent: ag.Name, Stateless: true, History: history,
		Message: message, RequestID: info.requestID, Before: info.take(),
	}
	if req.Stream {
		s.streamAgentCompletion(w, r, req, creq, created)
		return
	}
	res, err := s.chat(r).Run(r.Context(), creq)
	if err != nil {
		writeError(w, r, err)
		return
	}
	finish := "stop"
	text := res.Response
	if res.Status == approval.RunAwaiting {
		text = awaitingText(res)
	}
	msg := openaiwire.Message{Role: "assistant", Content: (*openaiwire.Content)(&text)}
	respond(w, r, http.StatusOK, completion{ChatCompletion: openaiwire.ChatCompletion{ID: "chatcmpl-" + res.RunID, Object: "chat.completion",
		Created: created, Model: ag.Name, Choices: []openaiwire.Choice{{Message: msg, FinishReason: finish}}, Usage: wireUsage(res.Usage)},
		Gatehouse: agentInfo(res)})
}

// agentConversation splits a request's messages for an agent run: the
// last must be the user's, earlier system and developer messages follow
// the agent's own system message, and tool traffic is refused (this
// agent's tools are not the client's).
func agentConversation(msgs []llm.Message) ([]llm.Message, string, error) {
	last := msgs[len(msgs)-1]
	if last.Role != "user" {
		return nil, "", errParam("messages", "the last message must be the user's")
	}
	if last.Content == "" {
		return nil, "", errParam("messages", "the last user message is empty")
	}
	history := make([]llm.Message, 0, len(msgs)-1)
	for i, m := range msgs[:len(msgs)-1] {
		switch {
		case m.Role == "tool" || len(m.ToolCalls) > 0:
			return nil, "", errParam(fmt.Sprintf("messages[%d]", i), "an agent runs its own tools: tool messages and assistant tool_calls are refused")
		case m.Role == "developer":
			m.Role = "system"
		}
		history = append(history, m)
	}
	return history, last.Content, nil
}

// streamAgentCompletion streams an agent run as chat.completion.chunk
// events: the model's content as it arrives (of every turn: whether a turn
// ends in tool calls is known only at its end), [DONE] only once
// run.finished is durable. A client that goes away cancels the run.
func (s *Server) streamAgentCompletion(w http.ResponseWriter, r *http.Request, req *openaiwire.ChatRequest, creq chat.Request, created int64) {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	st := newSSE(w)
	cs := &chunkStream{sse: st, created: created, model: creq.Agent}
	creq.OnRunEvent = func(ev agent.Event) {
		cs.id = "chatcmpl-" + ev.RunID
		if ev.Type != agent.EventMessageDelta || ev.Content == "" {
			return
		}
		if cs.content(ev.Content) != nil {
			cancel() // the client is gone: the run stops and its end is recorded
		}
	}
	res, err := s.chat(r).Run(ctx, creq)
	if err != nil {
		if st.started {
			_ = st.data(openAIErrorBody(toAPIError(err)))
			return
		}
		writeError(w, r, err)
		return
	}
	cs.id = "chatcmpl-" + res.RunID
	finish := "stop"
	last := cs.chunk(openaiwire.Message{}, &finish)
	switch {
	case res.Status == approval.RunAwaiting:
		d := openaiwire.Message{Content: openaiwire.Text(awaitingText(res))}
		if !cs.sent {
			d.Role = "assistant"
		}
		last = cs.chunk(d, &finish)
	case !cs.sent:
		last = cs.chunk(openaiwire.Message{Role: "assistant", Content: (*openaiwire.Content)(&res.Response)}, &finish)
	}
	last.Gatehouse = agentInfo(res)
	cs.end(last, includeUsage(req), res.Usage)
}

// chunkStream writes one completion as chat.completion.chunk events.
type chunkStream struct {
	sse     *sse
	id      string
	created int64
	model   string
	// sent is set once content went out (the first chunk carries the role).
	sent bool
}

func (c *chunkStream) chunk(delta openaiwire.Message, finish *string) completionChunk {
	return completionChunk{ChatCompletionChunk: openaiwire.ChatCompletionChunk{ID: c.id, Object: "chat.completion.chunk",
		Created: c.created, Model: c.model, Choices: []openaiwire.ChunkChoice{{Delta: delta, FinishReason: finish}}}}
}

// content sends a piece of the answer's text as it arrives.
func (c *chunkStream) content(text string) error {
	d := openaiwire.Message{Content: (*openaiwire.Content)(&text)}
	if !c.sent {
		d.Role, c.sent = "assistant", true
	}
	return c.sse.data(c.chunk(d, nil))
}

// end sends the last chunk, the usage chunk when the client asked for it
// (stream_options.include_usage), and [DONE].
func (c *chunkStream) end(last completionChunk, includeUsage bool, u llm.Usage) {
	_ = c.sse.data(last)
	if includeUsage {
		_ = c.sse.data(openaiwire.ChatCompletionChunk{ID: c.id, Object: "chat.completion.chunk", Created: c.created, Model: c.model,
			Choices: []openaiwire.ChunkChoice{}, Usage: wireUsage(u)})
	}
	_ = c.sse.done()
}

// passthroughInfo is the gatehouse object of a pass-through answer, the
// same on Chat Completions and the Responses API.
func passthroughInfo(runID, model string, res *passthrough.Result) *gatehouseInfo {
	gi := &gatehouseInfo{RunID: runID, Model: model, ToolCalls: res.Decisions, OfferedTools: res.Offered, RemovedTools: res.Removed, Refused: res.Refused}
	if len(res.Approvals) > 0 {
		gi.Status, gi.Approvals = approval.RunAwaiting, approvalsJSON(res.Approvals)
	}
	if gi.ToolCalls == nil {
		gi.ToolCalls = []agent.ToolCallRecord{}
	}
	return gi
}

// stopOnWriteError passes streamed text to write; when the client is gone
// the run is cancelled (it stops, and its end is recorded).
func stopOnWriteError(write func(string) error, cancel context.CancelFunc) func(string) error {
	return func(text string) error {
		if err := write(text); err != nil {
			cancel()
			return err
		}
		return nil
	}
}
