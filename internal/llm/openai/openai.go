// Package openai is the model client for OpenAI and OpenAI-compatible
// servers, through the official openai-go SDK. It lives apart from package
// llm so that the packages using a model do not pull in the SDK; only the
// wiring picks this adapter.
package openai

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/openaiwire"
	"github.com/gatehousehq/gatehouse/internal/telemetry"
)

// Config configures an OpenAI-compatible provider.
type Config struct {
	BaseURL string // empty = OpenAI
	APIKey  string
	Model   string
	// Timeout bounds each attempt, a streamed answer's last byte included.
	Timeout time.Duration
	// MaxRetries is how many times a call is tried again: on 429 and 5xx,
	// and for Stream also a stream that broke before its first delta.
	MaxRetries int
	// MaxRetryDelay caps the SDK's backoff between attempts (default 8 s).
	MaxRetryDelay time.Duration
	HTTPClient    *http.Client
}

// Client is an llm.Model backed by the official openai-go client.
type Client struct {
	client     sdk.Client
	model      string
	name       string
	maxRetries int
	retryDelay time.Duration // before a stream that broke is tried again
}

var _ llm.Model = (*Client)(nil)

// New builds the client.
func New(c Config) (*Client, error) {
	if c.Model == "" {
		return nil, errors.New("openai: model is required")
	}
	if c.APIKey == "" {
		return nil, errors.New("openai: api key is empty (set the variable named by model.api_key_env)")
	}
	opts := []option.RequestOption{
		option.WithAPIKey(c.APIKey),
		option.WithMaxRetries(c.MaxRetries),
	}
	if c.BaseURL != "" {
		opts = append(opts, option.WithBaseURL(c.BaseURL))
	}
	if c.Timeout > 0 {
		opts = append(opts, option.WithRequestTimeout(c.Timeout))
	}
	if c.MaxRetryDelay > 0 {
		opts = append(opts, option.WithMaxRetryDelay(c.MaxRetryDelay))
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = pooledClient()
	}
	opts = append(opts, option.WithHTTPClient(boundedClient(hc)), option.WithMiddleware(eachAttempt))
	name := "openai"
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil {
			return nil, errors.New("openai: base_url is not a URL")
		}
		name = "openai-compatible at " + u.Redacted() // never a password in logs
	}
	retryDelay := defaultStreamRetryDelay
	if c.MaxRetryDelay > 0 {
		retryDelay = min(retryDelay, c.MaxRetryDelay)
	}
	return &Client{client: sdk.NewClient(opts...), model: c.Model, name: name,
		maxRetries: max(c.MaxRetries, 0), retryDelay: retryDelay}, nil
}

// eachAttempt runs before every attempt the SDK makes: it passes the run's
// trace on to the provider (W3C traceparent) and counts the attempt for
// Stream (attemptsKey). One middleware of the client's: options given per
// request cost allocations on every call.
func eachAttempt(r *http.Request, next option.MiddlewareNext) (*http.Response, error) {
	ctx := r.Context()
	if n, ok := ctx.Value(attemptsKey{}).(*int); ok {
		*n++
	}
	telemetry.Inject(ctx, r.Header)
	return next(r)
}

// attemptsKey is the context key of an *int eachAttempt counts up.
type attemptsKey struct{}

// Name implements llm.Model.
func (o *Client) Name() string { return o.name }

// Complete implements llm.Model.
func (o *Client) Complete(ctx context.Context, req llm.Request) (*llm.Response, error) {
	body, err := o.encodeRequest(req, false)
	if err != nil {
		return nil, err
	}
	var raw []byte
	if err := o.client.Post(ctx, completionsPath, body, &raw); err != nil {
		return nil, providerError(ctx, err)
	}
	return decodeCompletion(raw)
}

// completionsPath is the chat completions endpoint under the base URL.
const completionsPath = "chat/completions"

// providerError is err as the caller hears it: the caller's own deadline or
// cancellation as such, anything else as llm.ErrProvider.
func providerError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		// The run still has time: this attempt ran out of model.timeout.
		// The SDK does not retry its own per-attempt timeout.
		return fmt.Errorf("%w: no answer within model.timeout", llm.ErrProvider)
	}
	var apiErr *sdk.Error
	if errors.As(err, &apiErr) {
		return fmt.Errorf("%w: upstream status %d", llm.ErrProvider, apiErr.StatusCode)
	}
	return fmt.Errorf("%w: %v", llm.ErrProvider, err)
}

// toResponse is the first choice of a completion, whole or accumulated
// from a stream, as a turn's response (only function calls are kept).
func toResponse(c *openaiwire.ChatCompletion) (*llm.Response, error) {
	if len(c.Choices) == 0 {
		return nil, errNoChoices
	}
	ch := &c.Choices[0]
	out := &llm.Response{Model: c.Model, Message: llm.Message{Role: "assistant", Content: ch.Message.Text()}, FinishReason: ch.FinishReason}
	if u := c.Usage; u != nil {
		out.Usage = llm.Usage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens, TotalTokens: u.TotalTokens}
	}
	for _, tc := range ch.Message.ToolCalls {
		if tc.Type == "function" {
			out.Message.ToolCalls = append(out.Message.ToolCalls, llm.ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments})
		}
	}
	return out, nil
}

var errNoChoices = fmt.Errorf("%w: response has no choices", llm.ErrProvider)
