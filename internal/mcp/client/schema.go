package client

import (
	"encoding/json"
	"fmt"

	"github.com/gatehousehq/gatehouse/internal/tools/schema"
)

// annotations are JSON schema keywords that describe without constraining
// (format is an annotation in draft 2020-12): dropped before compiling, so
// a server's schema that uses them can still be enforced. Any other keyword
// gatehouse's strict subset lacks (anyOf, $ref, patternProperties, ...)
// makes the tool's schema unenforceable, and the tool is disabled rather
// than called with arguments nobody checked.
var annotations = map[string]bool{
	"$schema": true, "$id": true, "$comment": true, "default": true, "examples": true,
	"format": true, "readOnly": true, "writeOnly": true, "deprecated": true,
}

// normalizeSchema returns the server's input schema as gatehouse enforces
// it (and offers it to models).
func normalizeSchema(in any) (json.RawMessage, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("encode input schema: %w", err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("decode input schema: %w", err)
	}
	out, err := json.Marshal(strip(v, 0))
	if err != nil {
		return nil, fmt.Errorf("encode input schema: %w", err)
	}
	return out, nil
}

// strip drops annotations from a schema node and the nodes below it.
func strip(v any, depth int) any {
	m, ok := v.(map[string]any)
	if !ok || depth > schema.MaxDepth {
		return v
	}
	out := map[string]any{}
	for k, val := range m {
		// A server may not relax gatehouse's own rules: its schema's opt-in
		// to control characters is dropped, so they stay refused.
		if annotations[k] || k == schema.AllowControlKeyword {
			continue
		}
		switch k {
		case "properties":
			if props, ok := val.(map[string]any); ok {
				np := map[string]any{}
				for name, p := range props {
					np[name] = strip(p, depth+1)
				}
				val = np
			}
		case "items":
			val = strip(val, depth+1)
		}
		out[k] = val
	}
	return out
}

func compileSchema(in any) (*schema.Schema, error) {
	raw, err := normalizeSchema(in)
	if err != nil {
		return nil, err
	}
	return schema.Compile(raw)
}
