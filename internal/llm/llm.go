// Package llm talks to models: the OpenAI-compatible client (through the
// official openai-go SDK) and the deterministic offline demo model.
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
	Options  Options
}

// Options are the request settings a pass-through forwards; zero values are
// not sent.
type Options struct {
	Temperature       *float64
	TopP              *float64
	MaxTokens         int64
	Stop              []string
	Seed              *int64
	ToolChoice        string // auto | none | required | a tool's name
	ParallelToolCalls *bool
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
}

// Model completes chat turns.
type Model interface {
	Complete(ctx context.Context, req Request) (*Response, error)
	// Name describes the provider for logs and start-up messages.
	Name() string
}

// ErrProvider means the provider failed after its retries (HTTP 502).
var ErrProvider = errors.New("model provider failed")
