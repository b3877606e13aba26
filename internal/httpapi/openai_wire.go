package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/gatehousehq/gatehouse/internal/llm"
)

// The OpenAI Chat Completions wire format, as far as gatehouse speaks it.

type completionRequest struct {
	Model         string
	Messages      []llm.Message
	Tools         []wireTool
	Stream        bool
	IncludeUsage  bool
	Options       llm.Options
	HasToolChoice bool
}

type wireTool struct {
	Name        string
	Description string
	Parameters  json.RawMessage
}

// completionFields are the request members gatehouse reads or knowingly
// ignores; any other member is refused, so nothing a client meant is
// silently dropped.
var completionFields = []string{
	"model", "messages", "stream", "stream_options", "tools", "tool_choice", "parallel_tool_calls",
	"temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "seed", "n",
	// Accepted and not forwarded: they change nothing gatehouse decides.
	"user", "store", "metadata", "frequency_penalty", "presence_penalty",
}

// decodeCompletion reads a chat completion request. Like decodeChat it
// refuses what a lenient decoder would take differently from a proxy in
// front: duplicate or case-variant keys at any depth, invalid Unicode,
// unknown members, trailing data.
func decodeCompletion(r *http.Request) (completionRequest, error) {
	var req completionRequest
	body, err := readBody(r)
	if err != nil {
		return req, err
	}
	top, err := strictObject(body, completionFields)
	if err != nil {
		return req, err
	}
	if err := field(top, "model", &req.Model); err != nil {
		return req, err
	}
	if req.Model == "" {
		return req, errParam("model", "field 'model' is required")
	}
	rawMsgs, ok := top["messages"]
	if !ok {
		return req, errParam("messages", "field 'messages' is required")
	}
	if req.Messages, err = decodeMessages(rawMsgs); err != nil {
		return req, err
	}
	if err := field(top, "stream", &req.Stream); err != nil {
		return req, err
	}
	if raw, ok := top["stream_options"]; ok && string(raw) != "null" {
		so, err := strictObject(raw, []string{"include_usage", "include_obfuscation"})
		if err != nil {
			return req, prefixed("stream_options", err)
		}
		if err := field(so, "include_usage", &req.IncludeUsage); err != nil {
			return req, err
		}
	}
	if raw, ok := top["tools"]; ok && string(raw) != "null" {
		if req.Tools, err = decodeTools(raw); err != nil {
			return req, err
		}
	}
	if err := decodeOptions(top, &req); err != nil {
		return req, err
	}
	return req, nil
}

func decodeOptions(top map[string]json.RawMessage, req *completionRequest) error {
	o := &req.Options
	for _, f := range []struct {
		name string
		dst  any
	}{{"temperature", &o.Temperature}, {"top_p", &o.TopP}, {"seed", &o.Seed}, {"parallel_tool_calls", &o.ParallelToolCalls}} {
		if err := field(top, f.name, f.dst); err != nil {
			return err
		}
	}
	if err := field(top, "max_tokens", &o.MaxTokens); err != nil {
		return err
	}
	if err := field(top, "max_completion_tokens", &o.MaxCompletionTokens); err != nil {
		return err
	}
	var n int64
	if err := field(top, "n", &n); err != nil {
		return err
	}
	if n > 1 {
		return errParam("n", "only one choice (n: 1) is served")
	}
	if raw, ok := top["stop"]; ok && string(raw) != "null" {
		var one string
		if json.Unmarshal(raw, &one) == nil {
			o.Stop = []string{one}
		} else if err := json.Unmarshal(raw, &o.Stop); err != nil {
			return errParam("stop", "field 'stop' must be a string or an array of strings")
		}
	}
	if raw, ok := top["tool_choice"]; ok && string(raw) != "null" {
		req.HasToolChoice = true
		var mode string
		if json.Unmarshal(raw, &mode) == nil {
			if !slices.Contains([]string{"auto", "none", "required"}, mode) {
				return errParam("tool_choice", "tool_choice must be auto, none, required or a function")
			}
			o.ToolChoice = &llm.ToolChoice{Mode: mode}
			return nil
		}
		tc, err := strictObject(raw, []string{"type", "function"})
		if err != nil {
			return prefixed("tool_choice", err)
		}
		fn, err := strictObject(tc["function"], []string{"name"})
		if err != nil {
			return prefixed("tool_choice.function", err)
		}
		var name string
		if err := field(fn, "name", &name); err != nil || name == "" {
			return errParam("tool_choice", "tool_choice.function.name is required")
		}
		o.ToolChoice = &llm.ToolChoice{Function: name}
	}
	return nil
}

func decodeMessages(raw json.RawMessage) ([]llm.Message, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, errParam("messages", "field 'messages' must be an array")
	}
	if len(items) == 0 {
		return nil, errParam("messages", "field 'messages' must not be empty")
	}
	out := make([]llm.Message, 0, len(items))
	for i, item := range items {
		path := fmt.Sprintf("messages[%d]", i)
		obj, err := strictObject(item, []string{"role", "content", "name", "tool_calls", "tool_call_id", "refusal"})
		if err != nil {
			return nil, prefixed(path, err)
		}
		var m llm.Message
		if err := field(obj, "role", &m.Role); err != nil {
			return nil, prefixed(path, err)
		}
		switch m.Role {
		case "system", "developer", "user", "assistant", "tool":
		default:
			return nil, errParam(path+".role", path+".role must be system, developer, user, assistant or tool")
		}
		if m.Content, err = messageText(obj["content"]); err != nil {
			return nil, prefixed(path, err)
		}
		if err := field(obj, "tool_call_id", &m.ToolCallID); err != nil {
			return nil, prefixed(path, err)
		}
		if m.Role == "tool" && m.ToolCallID == "" {
			return nil, errParam(path+".tool_call_id", path+": a tool message needs tool_call_id")
		}
		if raw, ok := obj["tool_calls"]; ok && string(raw) != "null" {
			if m.Role != "assistant" {
				return nil, errParam(path+".tool_calls", path+": only assistant messages carry tool_calls")
			}
			if m.ToolCalls, err = decodeToolCalls(raw, path); err != nil {
				return nil, err
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// messageText takes content as a string or as an array of text parts.
func messageText(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var parts []json.RawMessage
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", errBadRequest("content must be a string or an array of text parts")
	}
	var b strings.Builder
	for _, p := range parts {
		// Other members of a part are not read or forwarded: the Agents SDK
		// copies its own provider data into text parts of assistant turns.
		var obj map[string]json.RawMessage
		if len(p) == 0 || p[0] != '{' || json.Unmarshal(p, &obj) != nil {
			return "", errBadRequest("content parts must be objects")
		}
		var typ, text string
		if err := field(obj, "type", &typ); err != nil {
			return "", err
		}
		if typ != "text" {
			return "", errBadRequest("content parts must be of type text")
		}
		if err := field(obj, "text", &text); err != nil {
			return "", err
		}
		b.WriteString(text)
	}
	return b.String(), nil
}

func decodeToolCalls(raw json.RawMessage, path string) ([]llm.ToolCall, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, errParam(path+".tool_calls", path+".tool_calls must be an array")
	}
	out := make([]llm.ToolCall, 0, len(items))
	for i, item := range items {
		p := fmt.Sprintf("%s.tool_calls[%d]", path, i)
		obj, err := strictObject(item, []string{"id", "type", "function", "index"})
		if err != nil {
			return nil, prefixed(p, err)
		}
		fn, err := strictObject(obj["function"], []string{"name", "arguments"})
		if err != nil {
			return nil, prefixed(p+".function", err)
		}
		var tc llm.ToolCall
		if err := field(obj, "id", &tc.ID); err != nil {
			return nil, prefixed(p, err)
		}
		if err := field(fn, "name", &tc.Name); err != nil {
			return nil, prefixed(p, err)
		}
		if err := field(fn, "arguments", &tc.Arguments); err != nil {
			return nil, prefixed(p, err)
		}
		out = append(out, tc)
	}
	return out, nil
}

func decodeTools(raw json.RawMessage) ([]wireTool, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, errParam("tools", "field 'tools' must be an array")
	}
	out := make([]wireTool, 0, len(items))
	for i, item := range items {
		p := fmt.Sprintf("tools[%d]", i)
		obj, err := strictObject(item, []string{"type", "function"})
		if err != nil {
			return nil, prefixed(p, err)
		}
		var typ string
		if err := field(obj, "type", &typ); err != nil || typ != "function" {
			return nil, errParam(p+".type", p+": only function tools are served")
		}
		fn, err := strictObject(obj["function"], []string{"name", "description", "parameters", "strict"})
		if err != nil {
			return nil, prefixed(p+".function", err)
		}
		var t wireTool
		if err := field(fn, "name", &t.Name); err != nil || t.Name == "" {
			return nil, errParam(p+".function.name", p+".function.name is required")
		}
		if err := field(fn, "description", &t.Description); err != nil {
			return nil, prefixed(p, err)
		}
		t.Parameters = fn["parameters"]
		out = append(out, t)
	}
	return out, nil
}

// field decodes obj[name] into dst when present and not null.
func field(obj map[string]json.RawMessage, name string, dst any) error {
	raw, ok := obj[name]
	if !ok || string(raw) == "null" {
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return errParam(name, fmt.Sprintf("field %q has the wrong type", name))
	}
	return nil
}

func errParam(param, detail string) *apiError {
	e := errBadRequest(detail)
	e.Param = param
	return e
}

func prefixed(path string, err error) error {
	if ae, ok := err.(*apiError); ok {
		c := *ae
		c.Detail = path + ": " + ae.Detail
		if c.Param == "" {
			c.Param = path
		}
		return &c
	}
	return err
}
