package openaiwire

import (
	"fmt"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// ResponsesRequest is the body of POST /v1/responses.
type ResponsesRequest struct {
	Model              string              `json:"model"`
	Instructions       *string             `json:"instructions,omitempty"`
	Input              ResponseInput       `json:"input"`
	Tools              []ResponseTool      `json:"tools,omitempty"`
	ToolChoice         *ResponseToolChoice `json:"tool_choice,omitempty"`
	ParallelToolCalls  *bool               `json:"parallel_tool_calls,omitempty"`
	Stream             bool                `json:"stream,omitzero"`
	Store              *bool               `json:"store,omitempty"`
	PreviousResponseID *string             `json:"previous_response_id,omitempty"`
	Metadata           map[string]string   `json:"metadata,omitempty"`
	MaxOutputTokens    *int64              `json:"max_output_tokens,omitempty"`
	Temperature        *float64            `json:"temperature,omitempty"`
	TopP               *float64            `json:"top_p,omitempty"`

	// Members the SDKs send that change nothing gatehouse decides or the
	// upstream is asked: accepted, not forwarded (docs/openai.md lists
	// them). Conversation, prompt and background are read only to refuse
	// them when set: gatehouse does not serve them.
	Include              jsontext.Value `json:"include,omitempty"`
	Text                 jsontext.Value `json:"text,omitempty"`
	Reasoning            jsontext.Value `json:"reasoning,omitempty"`
	Truncation           jsontext.Value `json:"truncation,omitempty"`
	User                 jsontext.Value `json:"user,omitempty"`
	PromptCacheKey       jsontext.Value `json:"prompt_cache_key,omitempty"`
	PromptCacheRetention jsontext.Value `json:"prompt_cache_retention,omitempty"`
	PromptCacheOptions   jsontext.Value `json:"prompt_cache_options,omitempty"`
	ServiceTier          jsontext.Value `json:"service_tier,omitempty"`
	SafetyIdentifier     jsontext.Value `json:"safety_identifier,omitempty"`
	ContextManagement    jsontext.Value `json:"context_management,omitempty"`
	StreamOptions        jsontext.Value `json:"stream_options,omitempty"`
	TopLogprobs          jsontext.Value `json:"top_logprobs,omitempty"`
	MaxToolCalls         jsontext.Value `json:"max_tool_calls,omitempty"`
	Conversation         jsontext.Value `json:"conversation,omitempty"`
	Prompt               jsontext.Value `json:"prompt,omitempty"`
	Background           *bool          `json:"background,omitempty"`
}

// IgnoredResponsesMembers are the request members DecodeResponsesRequest
// accepts and gatehouse does not act on (docs/openai.md lists them).
var IgnoredResponsesMembers = []string{"include", "text", "reasoning", "truncation", "user", "prompt_cache_key",
	"prompt_cache_retention", "prompt_cache_options", "service_tier", "safety_identifier", "context_management",
	"stream_options", "top_logprobs", "max_tool_calls"}

// ResponseInput is a request's input: a string (one user message) or a
// list of items.
type ResponseInput struct {
	Items []InputItem
	set   bool
}

// UnmarshalJSONFrom reads a string as one user message, or the items.
func (in *ResponseInput) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	in.set = true
	switch dec.PeekKind() {
	case '"':
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		in.Items = []InputItem{{Type: "message", Role: "user", Text: tok.String()}}
		return nil
	case '[':
		return jsonv2.UnmarshalDecode(dec, &in.Items)
	}
	return &Error{Message: "must be a string or an array of items"}
}

// ResponseTool is a tool offered in a Responses request: a function
// (flat: name, description, parameters, strict) or a tool the provider
// runs itself (web_search, file_search, ...), of which only the type is
// read.
type ResponseTool struct {
	Type        string         `json:"type"`
	Name        string         `json:"name,omitempty"`
	Description string         `json:"description,omitempty"`
	Parameters  jsontext.Value `json:"parameters,omitempty"`
	Strict      *bool          `json:"strict,omitempty"`
}

// Hosted reports whether the tool is one the provider would run.
func (t ResponseTool) Hosted() bool { return t.Type != "function" }

// UnmarshalJSONFrom reads a function tool strictly; of another type only
// "type" is read (its members are the provider's), but a case variant of
// "type" is refused.
func (t *ResponseTool) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	members, err := readMembers(dec, "type", "name", "description", "parameters", "strict", "defer_loading")
	if err != nil {
		return err
	}
	if err := members.str("type", &t.Type); err != nil {
		return err
	}
	if t.Type != "function" {
		return nil
	}
	if err := members.strict("type", "name", "description", "parameters", "strict", "defer_loading"); err != nil {
		return err
	}
	if err := members.str("name", &t.Name); err != nil {
		return err
	}
	if err := members.str("description", &t.Description); err != nil {
		return err
	}
	t.Parameters = members["parameters"]
	if v, ok := members["strict"]; ok && string(v) != "null" {
		var b bool
		if jsonv2.Unmarshal(v, &b) != nil {
			return &Error{Message: "must be a boolean", Name: "strict"}
		}
		t.Strict = &b
	}
	return nil
}

// ResponseToolChoice is how the model may use the tools: a Mode (auto,
// none or required) or the one Function it must call
// ({"type":"function","name":...}).
type ResponseToolChoice struct {
	Mode     string
	Function string
}

// MarshalJSON writes the mode as a string, a function as an object.
func (c ResponseToolChoice) MarshalJSON() ([]byte, error) {
	if c.Function == "" {
		switch c.Mode {
		case "", "auto", "none", "required":
			// The modes a request may hold: written as they are, without
			// a marshaller per stored response.
			b := make([]byte, 0, len(c.Mode)+2)
			return append(append(append(b, '"'), c.Mode...), '"'), nil
		}
		return jsonv2.Marshal(c.Mode)
	}
	return jsonv2.Marshal(map[string]string{"type": "function", "name": c.Function})
}

// UnmarshalJSONFrom reads either shape.
func (c *ResponseToolChoice) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	if dec.PeekKind() == '"' {
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		switch c.Mode = tok.String(); c.Mode {
		case "auto", "none", "required":
			return nil
		}
		return &Error{Message: "must be auto, none, required or a function"}
	}
	var v struct {
		Type string `json:"type"`
		Name string `json:"name"`
	}
	if err := jsonv2.UnmarshalDecode(dec, &v); err != nil {
		return err
	}
	if v.Type != "function" || v.Name == "" {
		return &Error{Message: "must name a function: {\"type\":\"function\",\"name\":...}"}
	}
	c.Function = v.Name
	return nil
}

// DecodeResponsesRequest decodes and checks a Responses request (the body
// is one JSON value), as strictly as DecodeChatRequest. Any fault is an
// *Error.
func DecodeResponsesRequest(body []byte) (*ResponsesRequest, error) {
	var req ResponsesRequest
	if err := jsonv2.Unmarshal(body, &req, requestOptions); err != nil {
		return nil, requestError(err)
	}
	if err := req.check(); err != nil {
		return nil, err
	}
	return &req, nil
}

func (r *ResponsesRequest) check() error {
	switch {
	case r.Model == "":
		return &Error{Param: "model", Message: "is required"}
	case !r.Input.set:
		return &Error{Param: "input", Message: "is required"}
	case set(r.Conversation):
		return &Error{Param: "conversation", Message: "conversations are not served; use previous_response_id"}
	case set(r.Prompt):
		return &Error{Param: "prompt", Message: "stored prompts are not served"}
	case r.Background != nil && *r.Background:
		return &Error{Param: "background", Message: "background responses are not served"}
	}
	for i, t := range r.Tools {
		if t.Type == "function" && t.Name == "" {
			return &Error{Param: fmt.Sprintf("tools[%d].name", i), Message: "is required"}
		}
	}
	return nil
}

// set reports whether an optional member was given a value other than null.
func set(v jsontext.Value) bool { return len(v) > 0 && string(v) != "null" }
