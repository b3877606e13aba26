package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gatehousehq/gatehouse/internal/tools"
)

// ArgError reports arguments that do not match the schema. Its message is
// safe to show the model: it names the field and the rule, and never echoes
// more than a short key.
type ArgError struct {
	// Field is the dotted path of the offending field (items as name[i]),
	// empty when the problem is the document as a whole. It is built from
	// declared property names only.
	Field string
	// Reason never quotes what the call sent, so it may be stored in clear.
	Reason string
	// Key is the model-chosen key the reason is about, if any: the call's
	// own text, which Error quotes (cut short) and Redacted leaves out.
	Key string
}

func (e *ArgError) Error() string {
	if e.Key == "" {
		return e.Redacted()
	}
	return e.Redacted() + " " + shortQuote(e.Key)
}

// Redacted is Error without the call's own text: what an audit log may keep
// in clear when contents are hashed or dropped.
func (e *ArgError) Redacted() string {
	if e.Field == "" {
		return "invalid arguments: " + e.Reason
	}
	return fmt.Sprintf("invalid arguments: %s: %s", e.Field, e.Reason)
}

// Decode parses raw as the arguments of one call and validates them.
//
// raw must be exactly one JSON object, at most MaxSize bytes, valid UTF-8,
// nested at most MaxDepth deep, with every key a declared property spelled
// exactly, each at most once, and every required property present. Values
// decode as: string → string, integer → int64 (only plain digits: 1.0 and
// 1e2 are refused), number → float64, boolean → bool, array → []any of those,
// object → map[string]any. null is never accepted. Lone surrogate escapes
// are refused (CheckUnicode), and so are strings containing U+FFFD, and
// strings holding a C0 control character other than tab, newline and
// carriage return, unless their property opts in (AllowControlKeyword).
func (s *Schema) Decode(raw []byte) (tools.Args, error) {
	if len(raw) > MaxSize {
		return nil, &ArgError{Reason: fmt.Sprintf("larger than %d bytes", MaxSize)}
	}
	if err := CheckUnicode(raw); err != nil {
		return nil, &ArgError{Reason: err.Error()}
	}
	d := newDecoder(raw)
	tok, err := d.token("")
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('{') {
		return nil, &ArgError{Reason: "must be a JSON object, got " + kind(tok)}
	}
	m, err := d.object(s.root, "", 1)
	if err != nil {
		return nil, err
	}
	if err := d.end(); err != nil {
		return nil, err
	}
	return tools.Args(m), nil
}

type decoder struct {
	dec *json.Decoder
}

func newDecoder(raw []byte) *decoder {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return &decoder{dec: dec}
}

func (d *decoder) token(path string) (json.Token, error) {
	tok, err := d.dec.Token()
	if errors.Is(err, io.EOF) {
		return nil, &ArgError{Field: path, Reason: "unexpected end of input"}
	}
	if err != nil {
		return nil, &ArgError{Field: path, Reason: "malformed JSON"}
	}
	return tok, nil
}

// end refuses anything after the value.
func (d *decoder) end() error {
	if _, err := d.dec.Token(); !errors.Is(err, io.EOF) {
		return &ArgError{Reason: "trailing data after the arguments object"}
	}
	return nil
}

func (d *decoder) object(n *node, path string, depth int) (map[string]any, error) {
	if depth > MaxDepth {
		return nil, &ArgError{Field: path, Reason: fmt.Sprintf("nested deeper than %d", MaxDepth)}
	}
	out := make(map[string]any, len(n.props))
	for d.dec.More() {
		tok, err := d.token(path)
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, &ArgError{Field: path, Reason: "malformed JSON"}
		}
		p, err := n.property(key, path)
		if err != nil {
			return nil, err
		}
		field := join(path, key)
		if _, dup := out[key]; dup {
			return nil, &ArgError{Field: field, Reason: "duplicate key"}
		}
		v, err := d.value(p, field, depth)
		if err != nil {
			return nil, err
		}
		out[key] = v
	}
	if _, err := d.token(path); err != nil { // the closing brace
		return nil, err
	}
	for _, name := range n.required {
		if _, ok := out[name]; !ok {
			return nil, &ArgError{Field: join(path, name), Reason: "required"}
		}
	}
	return out, nil
}

// property finds the node of key, refusing keys that are unknown or differ
// only in case from a property (a case-insensitive reader downstream could
// take them for the property).
func (n *node) property(key, path string) (*node, error) {
	if p, ok := n.props[key]; ok {
		return p, nil
	}
	for _, name := range n.propNames {
		if strings.EqualFold(key, name) {
			return nil, &ArgError{Field: join(path, name), Reason: "key differs only in case", Key: key}
		}
	}
	return nil, &ArgError{Field: path, Reason: "unknown key", Key: key}
}

func (d *decoder) value(n *node, path string, depth int) (any, error) {
	tok, err := d.token(path)
	if err != nil {
		return nil, err
	}
	switch n.typ {
	case TypeObject:
		if tok != json.Delim('{') {
			return nil, typeError(path, n.typ, tok)
		}
		return d.object(n, path, depth+1)
	case TypeArray:
		if tok != json.Delim('[') {
			return nil, typeError(path, n.typ, tok)
		}
		return d.array(n, path, depth+1)
	}
	v, err := parseScalar(n.typ, tok, path)
	if err != nil {
		return nil, err
	}
	return v, n.check(v, path)
}

func (d *decoder) array(n *node, path string, depth int) ([]any, error) {
	if depth > MaxDepth {
		return nil, &ArgError{Field: path, Reason: fmt.Sprintf("nested deeper than %d", MaxDepth)}
	}
	out := []any{}
	for i := 0; d.dec.More(); i++ {
		v, err := d.value(n.items, fmt.Sprintf("%s[%d]", path, i), depth)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if _, err := d.token(path); err != nil { // the closing bracket
		return nil, err
	}
	return out, nil
}

// parseScalar converts one token to the Go value of typ.
func parseScalar(typ string, tok json.Token, path string) (any, error) {
	switch typ {
	case TypeString:
		s, ok := tok.(string)
		if !ok {
			return nil, typeError(path, typ, tok)
		}
		if strings.ContainsRune(s, utf8.RuneError) {
			return nil, &ArgError{Field: path, Reason: "contains invalid Unicode"}
		}
		return s, nil
	case TypeBoolean:
		b, ok := tok.(bool)
		if !ok {
			return nil, typeError(path, typ, tok)
		}
		return b, nil
	case TypeInteger:
		num, ok := tok.(json.Number)
		if !ok {
			return nil, typeError(path, typ, tok)
		}
		if strings.ContainsAny(string(num), ".eE") {
			return nil, &ArgError{Field: path, Reason: "expected integer, got a number with a fraction or exponent"}
		}
		i, err := strconv.ParseInt(string(num), 10, 64)
		if err != nil {
			return nil, &ArgError{Field: path, Reason: "integer out of range"}
		}
		return i, nil
	case TypeNumber:
		num, ok := tok.(json.Number)
		if !ok {
			return nil, typeError(path, typ, tok)
		}
		f, err := strconv.ParseFloat(string(num), 64)
		if err != nil {
			return nil, &ArgError{Field: path, Reason: "number out of range"}
		}
		return f, nil
	}
	return nil, typeError(path, typ, tok)
}

// check applies the constraints of n to a parsed scalar.
func (n *node) check(v any, path string) error {
	if len(n.enum) > 0 {
		found := false
		for _, e := range n.enum {
			if e == v {
				found = true
				break
			}
		}
		if !found {
			return &ArgError{Field: path, Reason: "not one of the allowed values"}
		}
	}
	switch v := v.(type) {
	case string:
		if !n.allowControl && hasControl(v) {
			return &ArgError{Field: path, Reason: "contains a control character (only tab, newline and carriage return are allowed)"}
		}
		l := utf8.RuneCountInString(v)
		if n.minLen >= 0 && l < n.minLen {
			return &ArgError{Field: path, Reason: fmt.Sprintf("shorter than %d characters", n.minLen)}
		}
		if n.maxLen >= 0 && l > n.maxLen {
			return &ArgError{Field: path, Reason: fmt.Sprintf("longer than %d characters", n.maxLen)}
		}
		if n.pattern != nil && !n.pattern.MatchString(v) {
			return &ArgError{Field: path, Reason: "does not match the pattern " + n.pattern.String()}
		}
	case int64:
		if (n.minInt != nil && v < *n.minInt) || (n.maxInt != nil && v > *n.maxInt) {
			return &ArgError{Field: path, Reason: "out of the allowed range"}
		}
	case float64:
		if (n.minimum != nil && v < *n.minimum) || (n.maximum != nil && v > *n.maximum) {
			return &ArgError{Field: path, Reason: "out of the allowed range"}
		}
	}
	return nil
}

// hasControl reports whether s holds a C0 control character other than
// tab, newline and carriage return (see AllowControlKeyword).
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
			return true
		}
	}
	return false
}

func typeError(path, want string, tok json.Token) error {
	return &ArgError{Field: path, Reason: fmt.Sprintf("expected %s, got %s", want, kind(tok))}
}

// kind names the JSON type of a token.
func kind(tok json.Token) string {
	switch tok := tok.(type) {
	case json.Delim:
		if tok == '{' {
			return "object"
		}
		if tok == '[' {
			return "array"
		}
		return "malformed JSON"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return "unknown"
}

// shortQuote quotes a model-chosen key, cut to keep messages short.
func shortQuote(s string) string {
	const limit = 64
	if utf8.RuneCountInString(s) > limit {
		s = string([]rune(s)[:limit]) + "…"
	}
	return strconv.Quote(s)
}
