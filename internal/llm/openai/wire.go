package openai

import (
	"encoding/json"
	"fmt"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/openaiwire"
)

// The chat completion request and response as they travel. The SDK's
// client sends the request and reads the answer (its transport, retries,
// error type and options), but the plain structs of package openaiwire are
// what it is given and what the answer is decoded into: the SDK's own param types marshal
// through a reflection-heavy encoder and its response types decode twice
// (JSON, then metadata per field). BenchmarkComplete: 508 allocations a
// call with the SDK's types, 293 with these; in G's CPU profile the model
// client went from 17% to 9% of the gateway.

// encodeRequest is req as the request body: the model (the request's, else
// the configured one), the messages, the tools and the options that are set.
func (o *Client) encodeRequest(req llm.Request, stream bool) ([]byte, error) {
	w := openaiwire.ChatRequest{Model: req.Model, Messages: wireMessages(req.Messages), Stream: stream}
	if w.Model == "" {
		w.Model = o.model
	}
	if stream {
		w.StreamOptions = &openaiwire.StreamOptions{IncludeUsage: true}
	}
	for _, t := range req.Tools {
		// Marshal checks each schema is JSON.
		w.Tools = append(w.Tools, openaiwire.Tool{Type: "function",
			Function: openaiwire.FunctionDef{Name: t.Name, Description: t.Description, Parameters: jsontext.Value(t.Parameters)}})
	}
	opt := req.Options
	w.Temperature, w.TopP, w.MaxTokens, w.MaxCompletionTokens = opt.Temperature, opt.TopP, opt.MaxTokens, opt.MaxCompletionTokens
	w.Stop, w.Seed, w.ParallelToolCalls = opt.Stop, opt.Seed, opt.ParallelToolCalls
	if tc := opt.ToolChoice; tc != nil && (tc.Function != "" || tc.Mode != "") {
		w.ToolChoice = &openaiwire.ToolChoice{Mode: tc.Mode, Function: tc.Function}
	}
	b, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	return b, nil
}

// wireMessages are the messages on the wire; roles the protocol does not
// have are left out.
func wireMessages(in []llm.Message) []openaiwire.Message {
	out := make([]openaiwire.Message, 0, len(in))
	for i := range in {
		m := &in[i]
		wm := openaiwire.Message{Role: m.Role}
		switch m.Role {
		case "system", "user":
			wm.Content = (*openaiwire.Content)(&m.Content)
		case "tool":
			wm.Content, wm.ToolCallID = (*openaiwire.Content)(&m.Content), m.ToolCallID
		case "assistant":
			if m.Content != "" {
				wm.Content = (*openaiwire.Content)(&m.Content)
			}
			for _, tc := range m.ToolCalls {
				wm.ToolCalls = append(wm.ToolCalls, openaiwire.Call(tc.ID, tc.Name, tc.Arguments))
			}
		default:
			continue
		}
		out = append(out, wm)
	}
	return out
}

// decodeCompletion is the first choice of a completion.
func decodeCompletion(body []byte) (*llm.Response, error) {
	c, err := openaiwire.DecodeChatCompletion(body)
	if err != nil {
		return nil, fmt.Errorf("%w: the response is not a chat completion: %v", llm.ErrProvider, err)
	}
	return toResponse(c)
}
