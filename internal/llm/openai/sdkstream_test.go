package openai

// The response and the stream in the SDK's own types, as Complete and
// streamOnce read them before: kept for BenchmarkComplete's and
// BenchmarkStream's comparisons.

import (
	"context"
	"fmt"
	"net/http"

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/ssestream"

	"github.com/gatehousehq/gatehouse/internal/llm"
)

// sdkStreamOnce is streamOnce with the SDK's chunk type and accumulator.
func (o *Client) sdkStreamOnce(ctx context.Context, body []byte, onDelta func(llm.Delta) error) (*llm.Response, error) {
	var raw *http.Response
	err := o.client.Post(ctx, completionsPath, body, &raw)
	stream := ssestream.NewStream[sdk.ChatCompletionChunk](ssestream.NewDecoder(raw), err)
	defer stream.Close()
	var acc sdk.ChatCompletionAccumulator
	for stream.Next() {
		chunk := stream.Current()
		if !acc.AddChunk(chunk) {
			return nil, fmt.Errorf("%w: a stream chunk that does not fit the ones before", llm.ErrProvider)
		}
		d := sdkDelta(chunk)
		if d.Content == "" && len(d.ToolCalls) == 0 {
			continue
		}
		if err := onDelta(d); err != nil {
			return nil, err
		}
	}
	if err := stream.Err(); err != nil {
		return nil, streamError(ctx, err)
	}
	if len(acc.Choices) == 0 || acc.Choices[0].FinishReason == "" {
		return nil, fmt.Errorf("%w: the stream ended before the model finished", llm.ErrProvider)
	}
	return accumulated(&acc.ChatCompletion)
}

// accumulated is the first choice of a completion in the SDK's type.
func accumulated(c *sdk.ChatCompletion) (*llm.Response, error) {
	if len(c.Choices) == 0 {
		return nil, errNoChoices
	}
	ch := &c.Choices[0]
	out := &llm.Response{Model: c.Model, Message: llm.Message{Role: "assistant", Content: ch.Message.Content}, FinishReason: ch.FinishReason,
		Usage: llm.Usage{PromptTokens: c.Usage.PromptTokens, CompletionTokens: c.Usage.CompletionTokens, TotalTokens: c.Usage.TotalTokens}}
	for _, tc := range ch.Message.ToolCalls {
		if tc.Type == "function" {
			out.Message.ToolCalls = append(out.Message.ToolCalls, llm.ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments})
		}
	}
	return out, nil
}

// sdkDelta is the first choice's part of a chunk in the SDK's type.
func sdkDelta(chunk sdk.ChatCompletionChunk) llm.Delta {
	var d llm.Delta
	for _, ch := range chunk.Choices {
		if ch.Index != 0 {
			continue
		}
		d.Content += ch.Delta.Content
		for _, tc := range ch.Delta.ToolCalls {
			d.ToolCalls = append(d.ToolCalls, llm.ToolCallDelta{Index: max(int(tc.Index), 0), ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments})
		}
	}
	return d
}
