package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/chat"
	"github.com/gatehousehq/gatehouse/internal/ids"
	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/openaiwire"
	"github.com/gatehousehq/gatehouse/internal/principal"
	"github.com/gatehousehq/gatehouse/internal/session"
)

// The Responses API (POST /v1/responses): the same two kinds of model as
// Chat Completions, translated to gatehouse's terms (llm messages) and
// back. The upstream is still asked with Chat Completions.

// responseBody is a response object with gatehouse's extra object.
type responseBody struct {
	openaiwire.Response
	Gatehouse *gatehouseInfo `json:"gatehouse,omitempty"`
}

// respCall is one POST /v1/responses as the handlers pass it along.
type respCall struct {
	req *openaiwire.ResponsesRequest
	id  string // resp_...
	// prior is the stored conversation previous_response_id continues;
	// input the request's own items, in the model's terms.
	prior, input []llm.Message
	created      int64
}

// conversation is what the model is asked with: the instructions, the
// stored conversation, the request's input.
func (c *respCall) conversation() []llm.Message {
	var out []llm.Message
	if c.req.Instructions != nil && *c.req.Instructions != "" {
		out = append(out, llm.Message{Role: "system", Content: *c.req.Instructions})
	}
	return append(append(out, c.prior...), c.input...)
}

// handleResponses serves POST /v1/responses.
func (s *Server) handleResponses() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt := s.runtime(r)
		req, err := decodeResponses(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		c := &respCall{req: req, id: session.NewResponseID(), input: inputMessages(req.Input.Items), created: time.Now().Unix()}
		if err := s.loadPrior(r, c); err != nil {
			writeError(w, r, err)
			return
		}
		lim := session.Limits{MaxMessages: rt.SessionMaxMessages, MaxBytes: rt.SessionMaxBytes}
		if err := lim.Check(chat.ToSession(c.prior)); err != nil {
			writeError(w, r, err)
			return
		}
		if ag, ok := rt.Agents[req.Model]; ok {
			s.agentResponse(w, r, ag, c)
			return
		}
		if rt.Passthrough != nil {
			if m, ok := rt.Passthrough.Models[req.Model]; ok {
				if err := hostedToolsAllowed(req.Tools, m.HostedTools); err != nil {
					writeError(w, r, err)
					return
				}
				run, err := s.door(rt).Admit()
				if err != nil {
					writeError(w, r, err)
					return
				}
				defer run.Done()
				s.passthroughResponse(w, r, rt, c, run.ID)
				return
			}
		}
		writeError(w, r, &apiError{Status: http.StatusNotFound, Code: "model_not_found", Param: "model",
			Detail: fmt.Sprintf("The model %s does not exist or you do not have access to it", quoteInput(req.Model))})
	})
}

// decodeResponses reads a Responses request as decodeCompletion reads a
// chat completion request: strictly, every fault a 400 naming the member.
func decodeResponses(r *http.Request) (*openaiwire.ResponsesRequest, error) {
	return decodeWire(r, openaiwire.DecodeResponsesRequest)
}

// hostedToolsAllowed refuses a tool the provider would run itself — it
// would act outside the gate — unless the model's config lists its type.
func hostedToolsAllowed(tools []openaiwire.ResponseTool, allowed []string) error {
	for i, t := range tools {
		if t.Hosted() && !slices.Contains(allowed, t.Type) {
			return &apiError{Status: http.StatusBadRequest, Code: "hosted_tool", Param: fmt.Sprintf("tools[%d].type", i),
				Detail: fmt.Sprintf("tool type %s runs at the provider, outside gatehouse's gate; only function tools are served (passthrough.models.<model>.hosted_tools may allow one)", quoteInput(t.Type))}
		}
	}
	return nil
}

// loadPrior reads the stored conversation previous_response_id names: the
// caller's own only, anyone else's is 404 (and recorded, as for sessions).
func (s *Server) loadPrior(r *http.Request, c *respCall) error {
	if c.req.PreviousResponseID == nil {
		return nil
	}
	sr, err := s.ownResponse(r, *c.req.PreviousResponseID)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
			ae = &apiError{Status: http.StatusNotFound, Code: "response_not_found", Param: "previous_response_id",
				Detail: "No stored response with this id for this caller"}
			return ae
		}
		return err
	}
	c.prior = chat.FromSession(sr.Messages)
	return nil
}

// ownResponse is the caller's stored response id. Another caller's (or a
// missing one) is recorded as a session.denied and is 404.
func (s *Server) ownResponse(r *http.Request, id string) (*session.StoredResponse, error) {
	if s.Responses == nil || !session.ValidResponseID(id) {
		return nil, errNotFound
	}
	p := principal.From(r.Context())
	sr, err := s.Responses.GetResponse(r.Context(), id, p.Key())
	if errors.Is(err, session.ErrNotFound) {
		ev := audit.Event{Type: audit.TypeSessionDenied, RequestID: infoFrom(r.Context()).requestID, Decision: audit.Deny,
			Rule: "response owner", Reason: "no stored response with this id for this subject", Resource: "response:" + id}.By(p)
		if rerr := s.Audit.Record(context.WithoutCancel(r.Context()), ev); rerr != nil {
			return nil, rerr
		}
		return nil, errNotFound
	}
	return sr, err
}

// inputMessages are a request's items in the model's terms: function calls
// join the assistant message before them (one turn), reasoning items are
// not forwarded.
func inputMessages(items []openaiwire.InputItem) []llm.Message {
	var out []llm.Message
	for _, it := range items {
		switch it.Type {
		case "message":
			out = append(out, llm.Message{Role: it.Role, Content: it.Text})
		case "function_call":
			call := llm.ToolCall{ID: it.CallID, Name: it.Name, Arguments: it.Arguments}
			if n := len(out); n > 0 && out[n-1].Role == "assistant" {
				out[n-1].ToolCalls = append(out[n-1].ToolCalls, call)
				continue
			}
			out = append(out, llm.Message{Role: "assistant", ToolCalls: []llm.ToolCall{call}})
		case "function_call_output":
			out = append(out, llm.Message{Role: "tool", ToolCallID: it.CallID, Content: it.Text})
		}
	}
	return out
}

// responseObject is the response object of c with its output.
func (c *respCall) responseObject(status string, output []openaiwire.OutputItem, u *llm.Usage) openaiwire.Response {
	req := c.req
	resp := openaiwire.Response{ID: c.id, Object: "response", CreatedAt: c.created, Status: status, Model: req.Model,
		Output: output, Instructions: req.Instructions, Metadata: req.Metadata, ParallelToolCalls: req.ParallelToolCalls == nil || *req.ParallelToolCalls,
		PreviousResponseID: req.PreviousResponseID, Store: c.store(), Temperature: req.Temperature, TopP: req.TopP,
		MaxOutputTokens: req.MaxOutputTokens, ToolChoice: openaiwire.ResponseToolChoice{Mode: "auto"}, Tools: req.Tools}
	if resp.Output == nil {
		resp.Output = []openaiwire.OutputItem{}
	}
	if resp.Metadata == nil {
		resp.Metadata = map[string]string{}
	}
	if resp.Tools == nil {
		resp.Tools = []openaiwire.ResponseTool{}
	}
	if req.ToolChoice != nil {
		resp.ToolChoice = *req.ToolChoice
	}
	if u != nil {
		resp.Usage = &openaiwire.ResponseUsage{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens, TotalTokens: u.TotalTokens}
	}
	return resp
}

// store reports whether the response is kept (store defaults to true).
func (c *respCall) store() bool { return c.req.Store == nil || *c.req.Store }

// outputItems are an answer as output items: its text as a message, then
// each released call.
func outputItems(msg llm.Message) []openaiwire.OutputItem {
	var out []openaiwire.OutputItem
	if msg.Content != "" || len(msg.ToolCalls) == 0 {
		out = append(out, openaiwire.MessageItem(ids.New("msg_"), "completed", msg.Content))
	}
	for _, c := range msg.ToolCalls {
		out = append(out, openaiwire.FunctionCallItem(ids.New("fc_"), "completed", c.ID, c.Name, c.Arguments))
	}
	return out
}

// answerOf is output items as the assistant message a later request
// continues.
func answerOf(items []openaiwire.OutputItem) llm.Message {
	m := llm.Message{Role: "assistant"}
	for _, it := range items {
		for _, p := range it.Content {
			m.Content += p.Text
		}
		if it.Type == "function_call" {
			m.ToolCalls = append(m.ToolCalls, llm.ToolCall{ID: it.CallID, Name: it.Name, Arguments: *it.Arguments})
		}
	}
	return m
}

// keep stores a finished response for its owner when the request asks to.
func (s *Server) keep(ctx context.Context, p *principal.Principal, c *respCall, body responseBody) error {
	if !c.store() || s.Responses == nil {
		return nil
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	conv := append(append(append([]llm.Message(nil), c.prior...), c.input...), answerOf(body.Output))
	return s.Responses.PutResponse(ctx, &session.StoredResponse{ID: c.id, Owner: p.Key(), Model: c.req.Model,
		Messages: chat.ToSession(conv), Body: b, Created: time.Unix(c.created, 0).UTC()})
}

// runHeaders name the run and the request in headers too: some clients
// (LangChain's ChatOpenAI) drop body members they do not know.
func runHeaders(w http.ResponseWriter, r *http.Request, runID string) {
	w.Header().Set("Gatehouse-Run-Id", runID)
	w.Header().Set("Gatehouse-Request-Id", infoFrom(r.Context()).requestID)
}

// finish answers a finished response: stored first (when asked), then sent.
func (s *Server) finish(w http.ResponseWriter, r *http.Request, c *respCall, body responseBody) {
	if err := s.keep(r.Context(), principal.From(r.Context()), c, body); err != nil {
		writeError(w, r, err)
		return
	}
	respond(w, r, http.StatusOK, body)
}
