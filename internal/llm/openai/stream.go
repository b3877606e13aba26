package openai

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/ssestream"

	"github.com/gatehousehq/gatehouse/internal/llm"
)

var _ llm.Streamer = (*Client)(nil)

// defaultStreamRetryDelay is the pause before a stream that broke before
// its first delta is asked for again (capped by Config.MaxRetryDelay).
const defaultStreamRetryDelay = 500 * time.Millisecond

// Stream implements llm.Streamer with the SDK's streaming chat completions
// (usage included). Error statuses are retried by the SDK as in Complete; a
// stream that breaks before its first delta reached onDelta is asked for
// again within the same budget of Config.MaxRetries. Once a delta was
// delivered nothing is retried. Config.Timeout bounds each attempt, the
// whole stream included, and MaxResponseBytes the bytes of each attempt.
func (o *Client) Stream(ctx context.Context, req llm.Request, onDelta func(llm.Delta) error) (*llm.Response, error) {
	body, err := o.encodeRequest(req, true)
	if err != nil {
		return nil, err
	}
	budget := o.maxRetries
	for {
		attempts := 0
		count := option.WithMiddleware(func(r *http.Request, next option.MiddlewareNext) (*http.Response, error) {
			attempts++
			return next(r)
		})
		delivered := false
		resp, err := o.streamOnce(ctx, body, func(d llm.Delta) error {
			delivered = true
			return onDelta(d)
		}, option.WithMaxRetries(budget), count)
		var broke *brokenStream
		if err == nil || delivered || !errors.As(err, &broke) {
			return resp, err
		}
		budget -= attempts
		if budget < 0 {
			return nil, err
		}
		t := time.NewTimer(o.retryDelay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
}

// brokenStream is a stream that ended wrongly after a successful status: an
// error event, a cut connection, no finish reason. It is an llm.ErrProvider.
type brokenStream struct{ err error }

func (e *brokenStream) Error() string { return e.err.Error() }
func (e *brokenStream) Unwrap() error { return e.err }

// streamOnce makes one streaming request (with the SDK's own retries of
// error statuses) and reads it to its end.
func (o *Client) streamOnce(ctx context.Context, body []byte, onDelta func(llm.Delta) error, opts ...option.RequestOption) (*llm.Response, error) {
	// As the SDK's Chat.Completions.NewStreaming, from the encoded body.
	var raw *http.Response
	err := o.client.Post(ctx, completionsPath, body, &raw, opts...)
	stream := ssestream.NewStream[sdk.ChatCompletionChunk](ssestream.NewDecoder(raw), err)
	defer stream.Close()
	var acc sdk.ChatCompletionAccumulator
	for stream.Next() {
		chunk := stream.Current()
		if !acc.AddChunk(chunk) {
			return nil, &brokenStream{fmt.Errorf("%w: a stream chunk that does not fit the ones before", llm.ErrProvider)}
		}
		d := toDelta(chunk)
		if d.Content == "" && len(d.ToolCalls) == 0 {
			continue
		}
		if err := onDelta(d); err != nil {
			return nil, err
		}
	}
	if err := stream.Err(); err != nil {
		perr := providerError(ctx, err)
		var apiErr *sdk.Error
		if !errors.Is(perr, llm.ErrProvider) || errors.As(err, &apiErr) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errResponseTooLarge) {
			// Already retried (statuses), not retried (model.timeout, size),
			// or the caller's own end.
			return nil, perr
		}
		return nil, &brokenStream{perr}
	}
	if len(acc.Choices) == 0 || acc.Choices[0].FinishReason == "" {
		// The body ended without the model finishing: a cut connection
		// looks like this when the server closes cleanly.
		return nil, &brokenStream{fmt.Errorf("%w: the stream ended before the model finished", llm.ErrProvider)}
	}
	return accumulated(&acc.ChatCompletion)
}

// accumulated is the first choice of the completion the SDK's accumulator
// assembled from a stream.
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

// toDelta is the first choice's part of a chunk.
func toDelta(chunk sdk.ChatCompletionChunk) llm.Delta {
	var d llm.Delta
	for _, ch := range chunk.Choices {
		if ch.Index != 0 {
			continue
		}
		d.Content += ch.Delta.Content
		for _, tc := range ch.Delta.ToolCalls {
			i := int(tc.Index)
			if i < 0 {
				i = 0 // some servers number a lone call -1, as the accumulator allows
			}
			d.ToolCalls = append(d.ToolCalls, llm.ToolCallDelta{Index: i, ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments})
		}
	}
	return d
}
