// Package openai is the model client for OpenAI and OpenAI-compatible
// servers, through the official openai-go SDK. It lives apart from package
// llm so that the packages using a model do not pull in the SDK; only the
// wiring picks this adapter.
package openai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/gatehousehq/gatehouse/internal/llm"
)

// Config configures an OpenAI-compatible provider.
type Config struct {
	BaseURL    string // empty = OpenAI
	APIKey     string
	Model      string
	Timeout    time.Duration // per attempt
	MaxRetries int           // on 429 and 5xx
	// MaxRetryDelay caps the SDK's backoff between attempts (default 8 s).
	MaxRetryDelay time.Duration
	HTTPClient    *http.Client
}

// Client is an llm.Model backed by the official openai-go client.
type Client struct {
	client sdk.Client
	model  string
	name   string
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
	opts = append(opts, option.WithHTTPClient(boundedClient(hc)))
	name := "openai"
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil {
			return nil, errors.New("openai: base_url is not a URL")
		}
		name = "openai-compatible at " + u.Redacted() // never a password in logs
	}
	return &Client{client: sdk.NewClient(opts...), model: c.Model, name: name}, nil
}

// maxIdlePerHost keeps a connection per concurrent run to the one model
// host. The default transport keeps 2, so under load each model call beyond
// those opened, and then dropped, a fresh connection.
const maxIdlePerHost = 256

// pooledClient is the default transport with room to reuse connections.
func pooledClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = maxIdlePerHost
	t.MaxIdleConnsPerHost = maxIdlePerHost
	return &http.Client{Transport: t}
}

// MaxResponseBytes bounds a model response body (the SDK reads it whole):
// a misbehaving or hostile OpenAI-compatible server cannot make gatehouse
// buffer more than this per call.
const MaxResponseBytes = 16 << 20

// boundedClient is hc with every response body cut off, as an error, past
// MaxResponseBytes.
func boundedClient(hc *http.Client) *http.Client {
	c := *hc
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c.Transport = boundedTransport{next}
	return &c
}

type boundedTransport struct{ next http.RoundTripper }

func (t boundedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := t.next.RoundTrip(req)
	if err == nil && res.Body != nil {
		res.Body = &boundedBody{rc: res.Body, left: MaxResponseBytes}
	}
	return res, err
}

var errResponseTooLarge = fmt.Errorf("model response larger than %d bytes", MaxResponseBytes)

type boundedBody struct {
	rc   io.ReadCloser
	left int64
	err  error // once past the bound, every read says so
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.left <= 0 {
		// One byte more tells a body of exactly the limit from a longer one.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			b.err = errResponseTooLarge
			return 0, b.err
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *boundedBody) Close() error { return b.rc.Close() }

// Name implements llm.Model.
func (o *Client) Name() string { return o.name }

// Complete implements llm.Model.
func (o *Client) Complete(ctx context.Context, req llm.Request) (*llm.Response, error) {
	model := req.Model
	if model == "" {
		model = o.model
	}
	params := sdk.ChatCompletionNewParams{
		Model:    shared.ChatModel(model),
		Messages: toParams(req.Messages),
	}
	for _, t := range req.Tools {
		var ps shared.FunctionParameters
		if err := json.Unmarshal(t.Parameters, &ps); err != nil {
			return nil, fmt.Errorf("encode tool %s: %w", t.Name, err)
		}
		params.Tools = append(params.Tools, sdk.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
			Name:        t.Name,
			Description: sdk.String(t.Description),
			Parameters:  ps,
		}))
	}
	resp, err := o.client.Chat.Completions.New(ctx, params)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, context.DeadlineExceeded) {
			// The run still has time: this attempt ran out of model.timeout.
			// The SDK does not retry its own per-attempt timeout.
			return nil, fmt.Errorf("%w: no answer within model.timeout", llm.ErrProvider)
		}
		var apiErr *sdk.Error
		if errors.As(err, &apiErr) {
			return nil, fmt.Errorf("%w: upstream status %d", llm.ErrProvider, apiErr.StatusCode)
		}
		return nil, fmt.Errorf("%w: %v", llm.ErrProvider, err)
	}
	if len(resp.Choices) == 0 {
		return nil, fmt.Errorf("%w: response has no choices", llm.ErrProvider)
	}
	m := resp.Choices[0].Message
	out := &llm.Response{
		Model:   resp.Model,
		Message: llm.Message{Role: "assistant", Content: m.Content},
		Usage: llm.Usage{
			PromptTokens:     resp.Usage.PromptTokens,
			CompletionTokens: resp.Usage.CompletionTokens,
			TotalTokens:      resp.Usage.TotalTokens,
		},
	}
	for _, tc := range m.ToolCalls {
		if tc.Type != "function" {
			continue
		}
		out.Message.ToolCalls = append(out.Message.ToolCalls, llm.ToolCall{
			ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments,
		})
	}
	return out, nil
}

func toParams(msgs []llm.Message) []sdk.ChatCompletionMessageParamUnion {
	out := make([]sdk.ChatCompletionMessageParamUnion, 0, len(msgs))
	for _, m := range msgs {
		switch m.Role {
		case "system":
			out = append(out, sdk.SystemMessage(m.Content))
		case "user":
			out = append(out, sdk.UserMessage(m.Content))
		case "tool":
			out = append(out, sdk.ToolMessage(m.Content, m.ToolCallID))
		case "assistant":
			a := sdk.ChatCompletionAssistantMessageParam{}
			if m.Content != "" {
				a.Content.OfString = sdk.String(m.Content)
			}
			for _, tc := range m.ToolCalls {
				a.ToolCalls = append(a.ToolCalls, sdk.ChatCompletionMessageToolCallUnionParam{
					OfFunction: &sdk.ChatCompletionMessageFunctionToolCallParam{
						ID: tc.ID,
						Function: sdk.ChatCompletionMessageFunctionToolCallFunctionParam{
							Name: tc.Name, Arguments: tc.Arguments,
						},
					},
				})
			}
			out = append(out, sdk.ChatCompletionMessageParamUnion{OfAssistant: &a})
		}
	}
	return out
}
