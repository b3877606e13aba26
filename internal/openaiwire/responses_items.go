package openaiwire

import (
	"slices"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// InputItem is one item of a Responses request's input, in the terms
// gatehouse reads: a message (Role, Text), a function_call the client
// received earlier (CallID, Name, Arguments), a function_call_output
// answering one (CallID, Text), or a reasoning item (accepted, not read).
type InputItem struct {
	Type                    string
	Role                    string
	Text                    string
	CallID, Name, Arguments string
}

// itemMembers are the members read per item type. Other members are the
// SDKs' own (the Agents SDK spreads provider data into items) and are
// skipped, but a case variant of any of these is refused: a reader
// matching names without case would take it for the member.
var itemMembers = map[string][]string{
	"message":              {"type", "role", "content", "id", "status", "phase"},
	"function_call":        {"type", "id", "call_id", "name", "arguments", "status"},
	"function_call_output": {"type", "id", "call_id", "output", "status"},
	"reasoning":            {"type", "id", "summary", "content", "encrypted_content", "status"},
}

// UnmarshalJSONFrom reads one item. An item without a type but with a role
// is a message (the SDKs' "easy" input message).
func (it *InputItem) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	m, err := readMembers(dec, "type", "role", "content", "id", "status", "phase", "call_id", "name", "arguments", "output", "summary", "encrypted_content")
	if err != nil {
		return err
	}
	if err := m.str("type", &it.Type); err != nil {
		return err
	}
	if _, ok := m["type"]; !ok {
		if _, hasRole := m["role"]; hasRole {
			it.Type = "message"
		}
	}
	if _, ok := itemMembers[it.Type]; !ok {
		return &Error{Message: "item type not served (message, function_call, function_call_output and reasoning are)", Name: it.Type}
	}
	switch it.Type {
	case "message":
		return it.message(m)
	case "function_call":
		for name, dst := range map[string]*string{"call_id": &it.CallID, "name": &it.Name, "arguments": &it.Arguments} {
			if err := m.required(name, dst); err != nil {
				return err
			}
		}
	case "function_call_output":
		if err := m.required("call_id", &it.CallID); err != nil {
			return err
		}
		v, ok := m["output"]
		if !ok {
			return &Error{Message: "is required", Name: "output"}
		}
		return readText(v, &it.Text)
	}
	return nil
}

func (it *InputItem) message(m members) error {
	if err := m.required("role", &it.Role); err != nil {
		return err
	}
	switch it.Role {
	case "user", "system", "developer", "assistant":
	default:
		return &Error{Message: "role must be user, system, developer or assistant"}
	}
	v, ok := m["content"]
	if !ok {
		return &Error{Message: "is required", Name: "content"}
	}
	return readText(v, &it.Text)
}

// readText reads content: a string, or text parts (input_text,
// output_text, refusal) joined. A part's other members are skipped; a case
// variant of type or text is refused.
func readText(v jsontext.Value, out *string) error {
	if v.Kind() == '"' {
		return jsonv2.Unmarshal(v, out)
	}
	var parts []jsontext.Value
	if jsonv2.Unmarshal(v, &parts) != nil {
		return &Error{Message: "must be a string or an array of text parts"}
	}
	var b strings.Builder
	for _, p := range parts {
		dec := jsontext.NewDecoder(strings.NewReader(string(p)))
		m, err := readMembers(dec, "type", "text", "refusal")
		if err != nil {
			return err
		}
		var typ, text string
		if err := m.str("type", &typ); err != nil {
			return err
		}
		field := "text"
		switch typ {
		case "input_text", "output_text", "text":
		case "refusal":
			field = "refusal"
		default:
			return &Error{Message: "content parts must be text (input_text, output_text or refusal)"}
		}
		if err := m.str(field, &text); err != nil {
			return err
		}
		b.WriteString(text)
	}
	*out = b.String()
	return nil
}

// members are an object's members as read, by name.
type members map[string]jsontext.Value

// readMembers reads one object. A member named twice is refused (the
// decoder's default), and so is a case variant of a name in known.
func readMembers(dec *jsontext.Decoder, known ...string) (members, error) {
	if dec.PeekKind() != '{' {
		return nil, &Error{Message: "must be an object"}
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, err
	}
	m := members{}
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return nil, err
		}
		name := tok.String()
		if !slices.Contains(known, name) && slices.ContainsFunc(known, func(k string) bool { return strings.EqualFold(k, name) }) {
			return nil, &Error{Message: "unknown field (member names are lowercase and case-sensitive)", Name: name}
		}
		v, err := dec.ReadValue()
		if err != nil {
			return nil, err
		}
		m[name] = v.Clone()
	}
	_, err := dec.ReadToken()
	return m, err
}

// str reads an optional string member (null counts as absent).
func (m members) str(name string, dst *string) error {
	v, ok := m[name]
	if !ok || string(v) == "null" {
		return nil
	}
	if v.Kind() != '"' {
		return &Error{Message: "must be a string", Name: name}
	}
	return jsonv2.Unmarshal(v, dst)
}

// required reads a string member that must be there.
func (m members) required(name string, dst *string) error {
	if v, ok := m[name]; !ok || string(v) == "null" {
		return &Error{Message: "is required", Name: name}
	}
	return m.str(name, dst)
}

// strict refuses a member not in allowed.
func (m members) strict(allowed ...string) error {
	for name := range m {
		if !slices.Contains(allowed, name) {
			return &Error{Message: "unknown field", Name: name}
		}
	}
	return nil
}
