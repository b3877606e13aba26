package openaiwire

import (
	"encoding/json"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// The members that take more than one shape. Each reads its shapes from
// the decoder of the whole body, so the options of that decode (unknown
// members refused for a request) hold inside them too.

// UnmarshalJSONFrom reads content as a string or an array of text parts,
// joined. A part's other members are not read (the Agents SDK copies its
// own provider data into text parts of assistant turns), but a case
// variant of "type" or "text" is refused: a reader matching names without
// case would take it for the text.
func (c *Content) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	switch dec.PeekKind() {
	case '"':
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		*c = Content(tok.String())
		return nil
	case '[':
		if _, err := dec.ReadToken(); err != nil {
			return err
		}
		var b strings.Builder
		for dec.PeekKind() != ']' {
			if err := readTextPart(dec, &b); err != nil {
				return err
			}
		}
		_, err := dec.ReadToken()
		*c = Content(b.String())
		return err
	}
	return &Error{Message: "must be a string or an array of text parts"}
}

// readTextPart reads one part ({"type":"text","text":...}) and appends its
// text to b.
func readTextPart(dec *jsontext.Decoder, b *strings.Builder) error {
	if dec.PeekKind() != '{' {
		return &Error{Message: "content parts must be objects"}
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	var typ, text string
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		switch name := tok.String(); {
		case name == "type" || name == "text":
			v, err := dec.ReadToken()
			if err != nil {
				return err
			}
			if v.Kind() != '"' {
				return &Error{Message: "must be a string", Name: name}
			}
			if name == "type" {
				typ = v.String()
			} else {
				text = v.String()
			}
		case strings.EqualFold(name, "type") || strings.EqualFold(name, "text"):
			return &Error{Message: "unknown field (member names are case-sensitive)", Name: name}
		default:
			if err := dec.SkipValue(); err != nil {
				return err
			}
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	if typ != "text" {
		return &Error{Message: "content parts must be of type text"}
	}
	b.WriteString(text)
	return nil
}

// Stop is the stop sequences: sent as an array, read from a string too.
type Stop []string

// UnmarshalJSONFrom reads a string or an array of strings.
func (s *Stop) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	if dec.PeekKind() == '"' {
		tok, err := dec.ReadToken()
		*s = Stop{tok.String()}
		return err
	}
	if dec.PeekKind() != '[' || jsonv2.UnmarshalDecode(dec, (*[]string)(s)) != nil {
		return &Error{Message: "must be a string or an array of strings"}
	}
	return nil
}

// ToolChoice is how the model may use the tools: a Mode (auto, none or
// required) or the one Function it must call.
type ToolChoice struct {
	Mode     string
	Function string
}

type namedChoice struct {
	Type     string `json:"type"`
	Function struct {
		Name string `json:"name"`
	} `json:"function"`
}

// MarshalJSON writes the mode as a string, a function as
// {"type":"function","function":{"name":...}}.
func (t ToolChoice) MarshalJSON() ([]byte, error) {
	if t.Function == "" {
		return json.Marshal(t.Mode)
	}
	c := namedChoice{Type: "function"}
	c.Function.Name = t.Function
	return json.Marshal(c)
}

// UnmarshalJSONFrom reads either shape.
func (t *ToolChoice) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	if dec.PeekKind() == '"' {
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		switch t.Mode = tok.String(); t.Mode {
		case "auto", "none", "required":
			return nil
		}
		return &Error{Message: "must be auto, none, required or a function"}
	}
	var c namedChoice
	if err := jsonv2.UnmarshalDecode(dec, &c); err != nil {
		return err
	}
	if c.Function.Name == "" {
		return &Error{Message: "function.name is required"}
	}
	t.Function = c.Function.Name
	return nil
}
