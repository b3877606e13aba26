package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/openaiwire"
	"github.com/gatehousehq/gatehouse/internal/passthrough"
)

// The OpenAI Chat Completions wire format is package openaiwire's; this
// file only turns its request into gatehouse's terms and gatehouse's
// answers into it.

// decodeCompletion reads a chat completion request. readBody refuses
// invalid Unicode and nesting too deep; openaiwire.DecodeChatRequest
// refuses duplicate or case-variant keys at any depth, unknown members and
// values of the wrong type, so nothing a lenient reader in front of
// gatehouse would take differently gets through.
func decodeCompletion(r *http.Request) (*openaiwire.ChatRequest, error) {
	return decodeWire(r, openaiwire.DecodeChatRequest)
}

// decodeWire reads the body with one of openaiwire's strict decoders: a
// fault it names is a 400 naming the member (the caller's key quoted
// bounded), anything else is malformed JSON.
func decodeWire[T any](r *http.Request, decode func([]byte) (T, error)) (T, error) {
	var zero T
	body, err := readBody(r)
	if err != nil {
		return zero, err
	}
	req, err := decode(body)
	if err != nil {
		var we *openaiwire.Error
		if !errors.As(err, &we) {
			return zero, errBadRequest("malformed JSON")
		}
		ae := errBadRequest(we.Detail(quoteInput))
		ae.Param = we.Param
		return zero, ae
	}
	return req, nil
}

// llmMessages are the request's messages in the model's terms.
func llmMessages(in []openaiwire.Message) []llm.Message {
	out := make([]llm.Message, len(in))
	for i := range in {
		m := &in[i]
		out[i] = llm.Message{Role: m.Role, Content: m.Text(), ToolCallID: m.ToolCallID}
		if len(m.ToolCalls) > 0 {
			out[i].ToolCalls = make([]llm.ToolCall, len(m.ToolCalls))
			for j, tc := range m.ToolCalls {
				out[i].ToolCalls[j] = llm.ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments}
			}
		}
	}
	return out
}

// offeredTools are the request's tools as the pass-through takes them.
func offeredTools(in []openaiwire.Tool) []passthrough.OfferedTool {
	out := make([]passthrough.OfferedTool, len(in))
	for i, t := range in {
		out[i] = passthrough.OfferedTool{Name: t.Function.Name, Description: t.Function.Description, Parameters: json.RawMessage(t.Function.Parameters)}
	}
	return out
}

// llmOptions are the request's settings a pass-through forwards.
func llmOptions(req *openaiwire.ChatRequest) llm.Options {
	o := llm.Options{Temperature: req.Temperature, TopP: req.TopP, Seed: req.Seed, ParallelToolCalls: req.ParallelToolCalls,
		MaxTokens: req.MaxTokens, MaxCompletionTokens: req.MaxCompletionTokens, Stop: []string(req.Stop)}
	if tc := req.ToolChoice; tc != nil {
		o.ToolChoice = &llm.ToolChoice{Mode: tc.Mode, Function: tc.Function}
	}
	return o
}

func includeUsage(req *openaiwire.ChatRequest) bool {
	return req.StreamOptions != nil && req.StreamOptions.IncludeUsage
}

// wireUsage is u on the wire.
func wireUsage(u llm.Usage) *openaiwire.Usage {
	return &openaiwire.Usage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens, TotalTokens: u.TotalTokens}
}

// wireCalls are calls on the wire; indexed numbers them, as a chunk does.
func wireCalls(calls []llm.ToolCall, indexed bool) []openaiwire.ToolCall {
	out := make([]openaiwire.ToolCall, len(calls))
	for i, c := range calls {
		out[i] = openaiwire.Call(c.ID, c.Name, c.Arguments)
		if indexed {
			idx := i
			out[i].Index = &idx
		}
	}
	return out
}

func errParam(param, detail string) *apiError {
	e := errBadRequest(detail)
	e.Param = param
	return e
}
