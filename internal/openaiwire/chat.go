package openaiwire

import (
	"github.com/go-json-experiment/json/jsontext"
)

// ChatRequest is the body of POST /v1/chat/completions.
type ChatRequest struct {
	Model               string         `json:"model"`
	Messages            []Message      `json:"messages"`
	Tools               []Tool         `json:"tools,omitempty"`
	ToolChoice          *ToolChoice    `json:"tool_choice,omitempty"`
	ParallelToolCalls   *bool          `json:"parallel_tool_calls,omitempty"`
	Temperature         *float64       `json:"temperature,omitempty"`
	TopP                *float64       `json:"top_p,omitempty"`
	MaxTokens           *int64         `json:"max_tokens,omitempty"`
	MaxCompletionTokens *int64         `json:"max_completion_tokens,omitempty"`
	Stop                Stop           `json:"stop,omitempty"`
	Seed                *int64         `json:"seed,omitempty"`
	N                   *int64         `json:"n,omitempty"`
	Stream              bool           `json:"stream,omitzero"`
	StreamOptions       *StreamOptions `json:"stream_options,omitempty"`

	// Members SDKs send that change nothing gatehouse decides: accepted,
	// not forwarded.
	User             string         `json:"user,omitempty"`
	Store            *bool          `json:"store,omitempty"`
	Metadata         jsontext.Value `json:"metadata,omitempty"`
	FrequencyPenalty *float64       `json:"frequency_penalty,omitempty"`
	PresencePenalty  *float64       `json:"presence_penalty,omitempty"`
}

// StreamOptions are a streamed request's options.
type StreamOptions struct {
	IncludeUsage       bool  `json:"include_usage,omitzero"`
	IncludeObfuscation *bool `json:"include_obfuscation,omitempty"`
}

// Message is a chat message: in a request's conversation, a completion's
// answer, and (every member optional) a chunk's delta.
type Message struct {
	Role       string     `json:"role,omitempty"`
	Content    *Content   `json:"content,omitempty"`
	Refusal    *string    `json:"refusal,omitempty"`
	Name       string     `json:"name,omitempty"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
}

// Text is the message's content, "" when it has none.
func (m Message) Text() string {
	if m.Content == nil {
		return ""
	}
	return string(*m.Content)
}

// Text is s as a message's content.
func Text(s string) *Content {
	c := Content(s)
	return &c
}

// Content is a message's text. It is sent as a string; a request may also
// give an array of text parts, which are read joined (content.go).
type Content string

// ToolCall is a function call the model asks for. In a chunk it is a piece
// of one: Index says which call, and only the first piece has the ID, type
// and name.
type ToolCall struct {
	Index    *int         `json:"index,omitempty"`
	ID       string       `json:"id,omitempty"`
	Type     string       `json:"type,omitempty"`
	Function FunctionCall `json:"function"`
}

// FunctionCall is the function a tool call names and its arguments, a JSON
// object as a string.
type FunctionCall struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

// Call is a whole function tool call.
func Call(id, name, arguments string) ToolCall {
	return ToolCall{ID: id, Type: "function", Function: FunctionCall{Name: name, Arguments: arguments}}
}

// Tool is a tool offered to the model; only function tools are served.
type Tool struct {
	Type     string      `json:"type"`
	Function FunctionDef `json:"function"`
}

// FunctionDef is an offered function: its name, description and JSON
// Schema of its arguments.
type FunctionDef struct {
	Name        string         `json:"name"`
	Description string         `json:"description,omitempty"`
	Parameters  jsontext.Value `json:"parameters,omitempty"`
	Strict      *bool          `json:"strict,omitempty"`
}

// ChatCompletion is a whole answer to a chat completion request.
type ChatCompletion struct {
	ID      string   `json:"id"`
	Object  string   `json:"object"` // chat.completion
	Created int64    `json:"created"`
	Model   string   `json:"model"`
	Choices []Choice `json:"choices"`
	Usage   *Usage   `json:"usage,omitempty"`
}

// Choice is one answer of a completion (gatehouse serves one).
type Choice struct {
	Index        int       `json:"index"`
	Message      Message   `json:"message"`
	FinishReason string    `json:"finish_reason"` // stop, tool_calls, length, content_filter
	Logprobs     *struct{} `json:"logprobs"`      // not served: always null
}

// Usage is the tokens a completion took.
type Usage struct {
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	TotalTokens      int64 `json:"total_tokens"`
}
