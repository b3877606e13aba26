package openaiwire

import jsonv2 "github.com/go-json-experiment/json"

// Response is the response object: the answer to POST /v1/responses, what
// GET /v1/responses/{id} returns, and the snapshot in a stream's lifecycle
// events.
type Response struct {
	ID                 string             `json:"id"`                 // resp_...
	Object             string             `json:"object"`             // response
	CreatedAt          int64              `json:"created_at"`         // Unix seconds
	Status             string             `json:"status"`             // in_progress | completed | failed | incomplete
	Model              string             `json:"model"`              //
	Output             []OutputItem       `json:"output"`             // never null
	Usage              *ResponseUsage     `json:"usage"`              // null until completed
	Error              *ResponseError     `json:"error"`              // set when failed
	IncompleteDetails  *struct{}          `json:"incomplete_details"` // not served: null
	Instructions       *string            `json:"instructions"`
	Metadata           map[string]string  `json:"metadata"`
	ParallelToolCalls  bool               `json:"parallel_tool_calls"`
	PreviousResponseID *string            `json:"previous_response_id"`
	Store              bool               `json:"store"`
	Temperature        *float64           `json:"temperature"`
	TopP               *float64           `json:"top_p"`
	MaxOutputTokens    *int64             `json:"max_output_tokens"`
	ToolChoice         ResponseToolChoice `json:"tool_choice"`
	Tools              []ResponseTool     `json:"tools"`
}

// OutputItem is one item of a response's output: a message (Role, Content)
// or a function call (CallID, Name, Arguments). ID is the item's own id
// (msg_..., fc_...), CallID the id a function_call_output must answer.
type OutputItem struct {
	Type      string       `json:"type"` // message | function_call
	ID        string       `json:"id"`
	Status    string       `json:"status"` // in_progress | completed
	Role      string       `json:"role,omitempty"`
	Content   []OutputText `json:"content,omitzero"` // a message's: [] while it starts
	CallID    string       `json:"call_id,omitempty"`
	Name      string       `json:"name,omitempty"`
	Arguments *string      `json:"arguments,omitempty"` // a call's: "" while it starts
}

// MessageItem is an assistant message item holding text (none: content []).
func MessageItem(id, status string, text ...string) OutputItem {
	it := OutputItem{Type: "message", ID: id, Status: status, Role: "assistant", Content: []OutputText{}}
	for _, t := range text {
		it.Content = append(it.Content, OutputTextPart(t))
	}
	return it
}

// FunctionCallItem is a function call item.
func FunctionCallItem(id, status, callID, name, arguments string) OutputItem {
	return OutputItem{Type: "function_call", ID: id, Status: status, CallID: callID, Name: name, Arguments: &arguments}
}

// OutputText is a message's text part.
type OutputText struct {
	Type        string `json:"type"` // output_text
	Text        string `json:"text"`
	Annotations []any  `json:"annotations"` // not served: []
	Logprobs    []any  `json:"logprobs"`    // not served: []
}

// OutputTextPart is text as a message part.
func OutputTextPart(text string) OutputText {
	return OutputText{Type: "output_text", Text: text, Annotations: []any{}, Logprobs: []any{}}
}

// ResponseUsage is the tokens a response took.
type ResponseUsage struct {
	InputTokens         int64        `json:"input_tokens"`
	InputTokensDetails  CachedTokens `json:"input_tokens_details"`
	OutputTokens        int64        `json:"output_tokens"`
	OutputTokensDetails ReasonTokens `json:"output_tokens_details"`
	TotalTokens         int64        `json:"total_tokens"`
}

// CachedTokens and ReasonTokens are usage details gatehouse does not
// count (always 0); the SDKs read them.
type (
	CachedTokens struct {
		CachedTokens int64 `json:"cached_tokens"`
	}
	ReasonTokens struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	}
)

// ResponseError is why a response failed.
type ResponseError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// DeletedResponse is the answer to DELETE /v1/responses/{id}.
type DeletedResponse struct {
	ID      string `json:"id"`
	Object  string `json:"object"` // response
	Deleted bool   `json:"deleted"`
}

// DecodeResponse decodes a response object (a server's answer: members
// this package does not read are ignored).
func DecodeResponse(body []byte) (*Response, error) {
	var r Response
	if err := jsonv2.Unmarshal(body, &r, answerOptions); err != nil {
		return nil, err
	}
	return &r, nil
}
