// Package schema validates a tool call's arguments against the tool's JSON
// schema in a single strict decode.
//
// The arguments a model sends are untrusted text. They are decoded exactly
// once, here, and the resulting tools.Args is both what the policy condition
// evaluates and what the tool receives, so no second parser can read the same
// bytes differently. Anything a lenient parser might read two ways is
// refused: duplicate keys, keys differing only in case, unknown keys, trailing
// data, invalid Unicode.
//
// Only the subset of JSON schema tools need is accepted; a schema using any
// other keyword is refused at Compile rather than silently not enforced.
package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
)

// Property types.
const (
	TypeString  = "string"
	TypeInteger = "integer"
	TypeNumber  = "number"
	TypeBoolean = "boolean"
	TypeArray   = "array"
	TypeObject  = "object"
)

const (
	// MaxSize is the largest arguments document Decode accepts, in bytes.
	MaxSize = 64 << 10
	// MaxDepth is the deepest nesting of objects and arrays accepted, in
	// schemas and in arguments alike.
	MaxDepth = 32
)

// Schema is a compiled arguments schema. It is safe for concurrent use.
type Schema struct {
	root *node
}

// Property describes one top-level property of a schema.
type Property struct {
	Type     string
	Required bool
}

// node is one compiled (sub)schema.
type node struct {
	typ        string
	enum       []any // values of typ: string, int64, float64 or bool
	minLen     int   // in code points; -1 when unset
	maxLen     int
	pattern    *regexp.Regexp
	minimum    *float64 // for numbers
	maximum    *float64
	minInt     *int64 // for integers
	maxInt     *int64
	items      *node            // arrays
	props      map[string]*node // objects
	propNames  []string         // sorted, for case checks and stable messages
	required   []string         // sorted
	isRequired map[string]bool
	// allowControl lets a string hold C0 control characters other than
	// tab, newline and carriage return (AllowControlKeyword).
	allowControl bool
}

// AllowControlKeyword, set to true on a string property, lets its values
// hold C0 control characters (U+0000–U+001F). Without it they are refused,
// except tab, newline and carriage return, which free text needs: a NUL
// lets "boss@evil.example\u0000@bank.example" satisfy a condition such as
// args.to.endsWith("@bank.example") while a mail system reads up to the
// NUL. Only the schema's author may opt in; MCP servers' schemas have it
// removed (internal/mcp/client).
const AllowControlKeyword = "x-gatehouse-allow-control"

// rawNode is the accepted keyword set.
type rawNode struct {
	Type                 string                     `json:"type"`
	Description          string                     `json:"description"`
	Title                string                     `json:"title"`
	Properties           map[string]json.RawMessage `json:"properties"`
	Required             []string                   `json:"required"`
	Enum                 []json.RawMessage          `json:"enum"`
	MinLength            *int                       `json:"minLength"`
	MaxLength            *int                       `json:"maxLength"`
	Pattern              *string                    `json:"pattern"`
	Minimum              *float64                   `json:"minimum"`
	Maximum              *float64                   `json:"maximum"`
	Items                json.RawMessage            `json:"items"`
	AdditionalProperties *bool                      `json:"additionalProperties"`
	AllowControl         *bool                      `json:"x-gatehouse-allow-control"`
}

var keywords = []string{
	"type", "description", "title", "properties", "required", "enum", "minLength", "maxLength",
	"pattern", "minimum", "maximum", "items", "additionalProperties", AllowControlKeyword,
}

// Compile parses a tool's parameters schema. The top level must be an object
// schema. additionalProperties is always false: it may be omitted or false,
// never true.
func Compile(raw json.RawMessage) (*Schema, error) {
	root, err := compileNode(raw, "", 1)
	if err != nil {
		return nil, fmt.Errorf("compile schema: %w", err)
	}
	if root.typ != TypeObject {
		return nil, fmt.Errorf("compile schema: top level must be type object, not %q", root.typ)
	}
	return &Schema{root: root}, nil
}

// Property returns the top-level property name, if the schema declares it.
func (s *Schema) Property(name string) (Property, bool) {
	n, ok := s.root.props[name]
	if !ok {
		return Property{}, false
	}
	return Property{Type: n.typ, Required: s.root.isRequired[name]}, true
}

// Properties returns the names of the top-level properties, sorted.
func (s *Schema) Properties() []string { return slices.Clone(s.root.propNames) }

func compileNode(raw json.RawMessage, path string, depth int) (*node, error) {
	if depth > MaxDepth {
		return nil, fmt.Errorf("%s: nested deeper than %d", where(path), MaxDepth)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil || keys == nil {
		return nil, fmt.Errorf("%s: a schema must be a JSON object", where(path))
	}
	// encoding/json matches struct fields case-insensitively; keywords must
	// be spelled exactly, and unknown ones are refused, not ignored.
	for k := range keys {
		if !slices.Contains(keywords, k) {
			return nil, fmt.Errorf("%s: unsupported keyword %q", where(path), k)
		}
	}
	var r rawNode
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%s: %w", where(path), err)
	}
	n := &node{typ: r.Type, minLen: -1, maxLen: -1}
	if r.AdditionalProperties != nil && *r.AdditionalProperties {
		return nil, fmt.Errorf("%s: additionalProperties must be false (unknown keys are always refused)", where(path))
	}
	if err := n.compileConstraints(&r, path); err != nil {
		return nil, err
	}
	switch r.Type {
	case TypeString, TypeInteger, TypeNumber, TypeBoolean:
		if r.Properties != nil || r.Required != nil || r.Items != nil || r.AdditionalProperties != nil {
			return nil, fmt.Errorf("%s: type %s takes no properties, required, items or additionalProperties", where(path), r.Type)
		}
	case TypeArray:
		if r.Items == nil {
			return nil, fmt.Errorf("%s: type array needs items", where(path))
		}
		items, err := compileNode(r.Items, path+"[]", depth+1)
		if err != nil {
			return nil, err
		}
		if items.typ == TypeArray || items.typ == TypeObject {
			return nil, fmt.Errorf("%s: array items must be string, integer, number or boolean", where(path))
		}
		n.items = items
	case TypeObject:
		if err := n.compileObject(&r, path, depth); err != nil {
			return nil, err
		}
	case "":
		return nil, fmt.Errorf("%s: type is required", where(path))
	default:
		return nil, fmt.Errorf("%s: unsupported type %q", where(path), r.Type)
	}
	return n, nil
}

func (n *node) compileObject(r *rawNode, path string, depth int) error {
	if r.Items != nil {
		return fmt.Errorf("%s: type object takes no items", where(path))
	}
	n.props = make(map[string]*node, len(r.Properties))
	for name, sub := range r.Properties {
		if name == "" {
			return fmt.Errorf("%s: empty property name", where(path))
		}
		for _, other := range n.propNames {
			if strings.EqualFold(name, other) {
				return fmt.Errorf("%s: properties %q and %q differ only in case", where(path), other, name)
			}
		}
		p, err := compileNode(sub, join(path, name), depth+1)
		if err != nil {
			return err
		}
		n.props[name] = p
		n.propNames = append(n.propNames, name)
	}
	slices.Sort(n.propNames)
	n.isRequired = make(map[string]bool, len(r.Required))
	for _, name := range r.Required {
		if _, ok := n.props[name]; !ok {
			return fmt.Errorf("%s: required names undeclared property %q", where(path), name)
		}
		if n.isRequired[name] {
			return fmt.Errorf("%s: property %q is required twice", where(path), name)
		}
		n.isRequired[name] = true
		n.required = append(n.required, name)
	}
	slices.Sort(n.required)
	return nil
}

func (n *node) compileConstraints(r *rawNode, path string) error {
	if (r.MinLength != nil || r.MaxLength != nil || r.Pattern != nil) && r.Type != TypeString {
		return fmt.Errorf("%s: minLength, maxLength and pattern apply to strings only", where(path))
	}
	if err := n.compileAllowControl(r, path); err != nil {
		return err
	}
	if (r.Minimum != nil || r.Maximum != nil) && r.Type != TypeInteger && r.Type != TypeNumber {
		return fmt.Errorf("%s: minimum and maximum apply to numbers only", where(path))
	}
	if r.MinLength != nil {
		if *r.MinLength < 0 {
			return fmt.Errorf("%s: minLength is negative", where(path))
		}
		n.minLen = *r.MinLength
	}
	if r.MaxLength != nil {
		if *r.MaxLength < 0 || *r.MaxLength < n.minLen {
			return fmt.Errorf("%s: maxLength is negative or below minLength", where(path))
		}
		n.maxLen = *r.MaxLength
	}
	if r.Pattern != nil {
		re, err := regexp.Compile(*r.Pattern)
		if err != nil {
			return fmt.Errorf("%s: pattern: %w", where(path), err)
		}
		n.pattern = re
	}
	if r.Minimum != nil && r.Maximum != nil && *r.Minimum > *r.Maximum {
		return fmt.Errorf("%s: minimum is above maximum", where(path))
	}
	if r.Type == TypeInteger {
		for _, b := range []struct {
			v   *float64
			dst **int64
		}{{r.Minimum, &n.minInt}, {r.Maximum, &n.maxInt}} {
			if b.v == nil {
				continue
			}
			if *b.v != math.Trunc(*b.v) || math.Abs(*b.v) > 1<<53 {
				return fmt.Errorf("%s: integer bounds must be whole numbers within ±2^53", where(path))
			}
			i := int64(*b.v)
			*b.dst = &i
		}
	} else {
		n.minimum, n.maximum = r.Minimum, r.Maximum
	}
	for _, e := range r.Enum {
		v, err := decodeEnum(e, n)
		if err != nil {
			return fmt.Errorf("%s: enum value %s: %w", where(path), e, err)
		}
		n.enum = append(n.enum, v)
	}
	if r.Enum != nil && len(n.enum) == 0 {
		return fmt.Errorf("%s: enum is empty", where(path))
	}
	return nil
}

func (n *node) compileAllowControl(r *rawNode, path string) error {
	if r.AllowControl != nil && r.Type != TypeString {
		return fmt.Errorf("%s: %s applies to strings only", where(path), AllowControlKeyword)
	}
	n.allowControl = r.AllowControl != nil && *r.AllowControl
	return nil
}

// decodeEnum reads one enum value with the same rules as arguments, so an
// enum compares equal to exactly the values Decode produces.
func decodeEnum(raw json.RawMessage, n *node) (any, error) {
	switch n.typ {
	case TypeString, TypeInteger, TypeNumber, TypeBoolean:
	default:
		return nil, fmt.Errorf("enum applies to scalar types only")
	}
	d := newDecoder(raw)
	tok, err := d.token("")
	if err != nil {
		return nil, err
	}
	v, err := parseScalar(n.typ, tok, "")
	if err != nil {
		return nil, err
	}
	if err := d.end(); err != nil {
		return nil, err
	}
	return v, nil
}

func where(path string) string {
	if path == "" {
		return "schema"
	}
	return "property " + path
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
