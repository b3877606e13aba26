package openai

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/ssestream"

	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/openaiwire"
)

var _ llm.Streamer = (*Client)(nil)

// defaultStreamRetryDelay is the pause before a stream that broke before
// its first delta is asked for again (capped by Config.MaxRetryDelay).
const defaultStreamRetryDelay = 500 * time.Millisecond

// Stream implements llm.Streamer: a streaming chat completion (usage
// included) that the SDK sends, read by streamOnce. Error statuses are
// retried by the SDK as in Complete; a stream that breaks before its first
// delta reached onDelta is asked for again within the same budget of
// Config.MaxRetries. Once a delta was delivered nothing is retried. Config.Timeout bounds each attempt, the
// whole stream included, and MaxResponseBytes the bytes of each attempt.
func (o *Client) Stream(ctx context.Context, req llm.Request, onDelta func(llm.Delta) error) (*llm.Response, error) {
	body, err := o.encodeRequest(req, true)
	if err != nil {
		return nil, err
	}
	budget := o.maxRetries
	var opts []option.RequestOption // none while the budget is the client's
	for {
		// The SDK's attempts of this ask, counted by eachAttempt.
		attempts := new(int)
		resp, delivered, err := o.streamOnce(context.WithValue(ctx, attemptsKey{}, attempts), body, onDelta, opts...)
		if err == nil || delivered || !isBroken(err) {
			return resp, err
		}
		budget -= *attempts
		if budget < 0 {
			return nil, err
		}
		opts = []option.RequestOption{option.WithMaxRetries(budget)}
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

func isBroken(err error) bool {
	var broke *brokenStream
	return errors.As(err, &broke)
}

// streamOnce makes one streaming request (with the SDK's own retries of
// error statuses) and reads it to its end; delivered reports whether a
// delta reached onDelta. The SDK frames the events; each is decoded into
// one reused chunk and assembled (chunks.go). As the SDK's ssestream read
// them: "[DONE]" ends the stream, and an event with an "error" member is
// the upstream's error, whatever its event type.
func (o *Client) streamOnce(ctx context.Context, body []byte, onDelta func(llm.Delta) error, opts ...option.RequestOption) (_ *llm.Response, delivered bool, _ error) {
	var raw *http.Response
	err := o.client.Post(ctx, completionsPath, body, &raw, opts...)
	events := ssestream.NewDecoder(raw)
	if events != nil {
		defer events.Close()
	}
	if err != nil {
		return nil, delivered, streamError(ctx, err)
	}
	var acc assembly
	var chunk openaiwire.StreamedChunk
	for events != nil && events.Next() {
		data := events.Event().Data
		if bytes.HasPrefix(data, []byte("[DONE]")) {
			break
		}
		if err := openaiwire.DecodeStreamedChunk(data, &chunk); err != nil {
			return nil, delivered, streamError(ctx, err)
		}
		if chunk.Error != nil {
			return nil, delivered, streamError(ctx, &upstreamError{chunk.Error})
		}
		d, ok := acc.add(&chunk.ChatCompletionChunk)
		if !ok {
			return nil, delivered, &brokenStream{fmt.Errorf("%w: a stream chunk that does not fit the ones before", llm.ErrProvider)}
		}
		if d.Content == "" && len(d.ToolCalls) == 0 {
			continue
		}
		delivered = true
		if err := onDelta(d); err != nil {
			return nil, delivered, err
		}
	}
	if events != nil && events.Err() != nil {
		return nil, delivered, streamError(ctx, events.Err())
	}
	if acc.finish == "" {
		// The body ended without the model finishing: a cut connection
		// looks like this when the server closes cleanly.
		return nil, delivered, &brokenStream{fmt.Errorf("%w: the stream ended before the model finished", llm.ErrProvider)}
	}
	return acc.response(), delivered, nil
}

// streamError is err, which ended a stream, as the caller hears it: a
// brokenStream when it may be asked for again.
func streamError(ctx context.Context, err error) error {
	perr := providerError(ctx, err)
	var apiErr *sdk.Error
	if !errors.Is(perr, llm.ErrProvider) || errors.As(err, &apiErr) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errResponseTooLarge) {
		// Already retried (statuses), not retried (model.timeout, size),
		// or the caller's own end.
		return perr
	}
	return &brokenStream{perr}
}

// upstreamError is an error event in a stream; it reads as the SDK's did.
type upstreamError struct{ member jsontext.Value }

func (e *upstreamError) Error() string {
	msg := string(e.member)
	switch e.member.Kind() {
	case 'n':
		msg = ""
	case '"':
		if s, err := jsontext.AppendUnquote(nil, e.member); err == nil {
			msg = string(s)
		}
	}
	return "received error while streaming: " + msg
}
