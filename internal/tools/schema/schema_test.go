package schema

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCompile_RefusesUnsupportedSchemas(t *testing.T) {
	tests := []struct {
		name, raw, wantIn string
	}{
		{"not an object", `[]`, "must be a JSON object"},
		{"top level not object", `{"type":"string"}`, "top level must be type object"},
		{"missing type", `{"properties":{}}`, "type is required"},
		{"unknown type", `{"type":"object","properties":{"a":{"type":"null"}}}`, `unsupported type "null"`},
		{"unknown keyword", `{"type":"object","oneOf":[]}`, `unsupported keyword "oneOf"`},
		{"keyword in wrong case", `{"Type":"object"}`, `unsupported keyword "Type"`},
		{"additionalProperties true", `{"type":"object","additionalProperties":true}`, "additionalProperties must be false"},
		{"required names undeclared property", `{"type":"object","required":["a"]}`, `undeclared property "a"`},
		{"properties differing in case", `{"type":"object","properties":{"id":{"type":"string"},"ID":{"type":"string"}}}`, "differ only in case"},
		{"array without items", `{"type":"object","properties":{"a":{"type":"array"}}}`, "needs items"},
		{"array of objects", `{"type":"object","properties":{"a":{"type":"array","items":{"type":"object"}}}}`, "items must be string"},
		{"enum of wrong type", `{"type":"object","properties":{"a":{"type":"string","enum":[1]}}}`, "enum value 1"},
		{"bad pattern", `{"type":"object","properties":{"a":{"type":"string","pattern":"("}}}`, "pattern"},
		{"pattern on integer", `{"type":"object","properties":{"a":{"type":"integer","pattern":"x"}}}`, "strings only"},
		{"minimum above maximum", `{"type":"object","properties":{"a":{"type":"number","minimum":2,"maximum":1}}}`, "minimum is above maximum"},
		{"fractional integer bound", `{"type":"object","properties":{"a":{"type":"integer","minimum":0.5}}}`, "whole numbers"},
		{"maxLength below minLength", `{"type":"object","properties":{"a":{"type":"string","minLength":3,"maxLength":2}}}`, "below minLength"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Compile(json.RawMessage(tt.raw))
			if err == nil {
				t.Fatalf("Compile(%s) = %v, want error", tt.raw, s)
			}
			if !strings.Contains(err.Error(), tt.wantIn) {
				t.Errorf("Compile(%s) error %q does not contain %q", tt.raw, err, tt.wantIn)
			}
		})
	}
}

func TestSchema_PropertyReportsTypeAndRequired(t *testing.T) {
	s := mustCompile(t, `{"type":"object","properties":{"id":{"type":"string"},"n":{"type":"integer"}},"required":["id"]}`)
	got := map[string]Property{}
	for _, name := range s.Properties() {
		p, _ := s.Property(name)
		got[name] = p
	}
	want := map[string]Property{"id": {Type: TypeString, Required: true}, "n": {Type: TypeInteger}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("properties (-want +got):\n%s", diff)
	}
	if _, ok := s.Property("missing"); ok {
		t.Error("Property(missing) reported ok")
	}
}
