// Package llm is the model contract the agent loop and the API stand on:
// messages, tool definitions, a turn's request and response, and the
// deterministic offline demo model. Adapters to real providers live in their
// own packages (llm/openai), so importing llm never pulls in an SDK.
package llm

import (
	"context"
	"encoding/json"
	"errors"
)

// Message is one chat message in the model's terms.
type Message struct {
	Role       string // system | user | assistant | tool
	Content    string
	ToolCalls  []ToolCall // assistant only
	ToolCallID string     // tool only
}

// ToolCall is a model's request to call a function.
type ToolCall struct {
	ID        string
	Name      string
	Arguments string // raw JSON text as the model wrote it
}

// ToolDef is a function the model is shown.
type ToolDef struct {
	Name        string
	Description string
	Parameters  json.RawMessage
}

// Request is one model turn.
type Request struct {
	Model    string
	Messages []Message
	Tools    []ToolDef
	// Options are sampling and tool settings a pass-through forwards from
	// its client; the zero value sends none of them.
	Options Options
}

// Options are the request settings forwarded to the provider when set. A
// nil pointer or empty value is not sent, so the provider's default holds.
type Options struct {
	Temperature         *float64
	TopP                *float64
	MaxTokens           *int64 // the legacy max_tokens
	MaxCompletionTokens *int64
	Stop                []string
	Seed                *int64
	ParallelToolCalls   *bool
	ToolChoice          *ToolChoice
}

// ToolChoice is tool_choice: either a Mode or the Function the model must
// call.
type ToolChoice struct {
	Mode     string // auto | none | required
	Function string // a tool's name; Mode is then empty
}

// Usage counts tokens.
type Usage struct {
	PromptTokens, CompletionTokens, TotalTokens int64
}

// Response is the model's answer to one turn.
type Response struct {
	Message Message
	Model   string
	Usage   Usage
	// FinishReason is why the model stopped: stop, tool_calls, length,
	// content_filter; empty when the model does not say.
	FinishReason string
}

// Model completes chat turns.
type Model interface {
	Complete(ctx context.Context, req Request) (*Response, error)
	// Name describes the provider for logs and start-up messages.
	Name() string
}

// ErrProvider means the provider failed after its retries (HTTP 502).
var ErrProvider = errors.New("model provider failed")
