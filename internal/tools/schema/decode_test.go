package schema

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehousehq/gatehouse/internal/tools"
)

const paymentsSchema = `{
	"type": "object",
	"properties": {"customer_id": {"type": "string", "description": "customer id", "pattern": "^C-[0-9]+$"}},
	"required": ["customer_id"],
	"additionalProperties": false
}`

const richSchema = `{
	"type": "object",
	"properties": {
		"name":   {"type": "string", "minLength": 1, "maxLength": 5},
		"count":  {"type": "integer", "minimum": 0, "maximum": 10},
		"ratio":  {"type": "number", "minimum": 0, "maximum": 1},
		"on":     {"type": "boolean"},
		"field":  {"type": "string", "enum": ["status", "premium"]},
		"tags":   {"type": "array", "items": {"type": "string"}},
		"nested": {"type": "object", "properties": {"k": {"type": "string"}}, "required": ["k"]}
	}
}`

func mustCompile(t testing.TB, raw string) *Schema {
	t.Helper()
	s, err := Compile(json.RawMessage(raw))
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return s
}

func TestDecode_AcceptsValidArguments(t *testing.T) {
	s := mustCompile(t, richSchema)
	tests := []struct {
		name, in string
		want     tools.Args
	}{
		{"empty object", `{}`, tools.Args{}},
		{"every type", ` {"name":"ab","count":3,"ratio":0.5,"on":true,"field":"status","tags":["x","y"],"nested":{"k":"v"}} `,
			tools.Args{"name": "ab", "count": int64(3), "ratio": 0.5, "on": true, "field": "status",
				"tags": []any{"x", "y"}, "nested": map[string]any{"k": "v"}}},
		{"integer-valued number stays float64", `{"ratio":1}`, tools.Args{"ratio": float64(1)}},
		{"empty array", `{"tags":[]}`, tools.Args{"tags": []any{}}},
		{"escaped key is the same key", `{"n\u0061me":"a"}`, tools.Args{"name": "a"}},
		{"length counts characters not bytes", `{"name":"ééééé"}`, tools.Args{"name": "ééééé"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Decode([]byte(tt.in))
			if err != nil {
				t.Fatalf("Decode(%s): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Decode(%s) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestDecode_RefusesAmbiguousOrInvalidArguments(t *testing.T) {
	payments := mustCompile(t, paymentsSchema)
	rich := mustCompile(t, richSchema)
	tests := []struct {
		name      string
		s         *Schema
		in        string
		wantField string
		wantIn    string
	}{
		{"key differing only in case", payments, `{"customer_id":"C-100","Customer_ID":"C-200"}`, "customer_id", "differs only in case"},
		{"case variant alone", payments, `{"CUSTOMER_ID":"C-100"}`, "customer_id", "differs only in case"},
		{"kelvin sign folds to k", rich, `{"nested":{"\u212a":"v"}}`, "nested.k", "differs only in case"},
		{"duplicate key", payments, `{"customer_id":"C-100","customer_id":"C-200"}`, "customer_id", "duplicate key"},
		{"duplicate key via escape", payments, `{"customer_id":"C-100","customer\u005fid":"C-200"}`, "customer_id", "duplicate key"},
		{"nested duplicate key", rich, `{"nested":{"k":"a","k":"b"}}`, "nested.k", "duplicate key"},
		{"extra key", payments, `{"customer_id":"C-100","admin":true}`, "", `unknown key "admin"`},
		{"number instead of string", payments, `{"customer_id":100}`, "customer_id", "expected string, got number"},
		{"null instead of string", payments, `{"customer_id":null}`, "customer_id", "expected string, got null"},
		{"object instead of string", payments, `{"customer_id":{"x":1}}`, "customer_id", "expected string, got object"},
		{"missing required", payments, `{}`, "customer_id", "required"},
		{"array document", payments, `[]`, "", "must be a JSON object, got array"},
		{"null document", payments, `null`, "", "must be a JSON object, got null"},
		{"string document", payments, `"x"`, "", "must be a JSON object, got string"},
		{"empty input", payments, ``, "", "unexpected end of input"},
		{"two objects", payments, `{"customer_id":"C-100"}{"customer_id":"C-200"}`, "", "trailing data"},
		{"trailing garbage", payments, `{"customer_id":"C-100"} x`, "", "trailing data"},
		{"trailing comma", payments, `{"customer_id":"C-100",}`, "", "malformed JSON"},
		{"missing comma", rich, `{"name":"a" "on":true}`, "", "malformed JSON"},
		{"unterminated", payments, `{"customer_id":"C-100"`, "", "unexpected end of input"},
		{"invalid UTF-8", payments, "{\"customer_id\":\"C-\xff\"}", "", "not valid UTF-8"},
		{"lone surrogate escape", payments, `{"customer_id":"C-1\ud800"}`, "", "lone surrogate"},
		{"U+FFFD", payments, `{"customer_id":"C-1\ufffd"}`, "customer_id", "invalid Unicode"},
		{"pattern mismatch", payments, `{"customer_id":"C-100/../x"}`, "customer_id", "does not match"},
		{"float for integer", rich, `{"count":1.5}`, "count", "fraction or exponent"},
		{"1.0 for integer", rich, `{"count":1.0}`, "count", "fraction or exponent"},
		{"exponent for integer", rich, `{"count":1e1}`, "count", "fraction or exponent"},
		{"string for integer", rich, `{"count":"3"}`, "count", "expected integer, got string"},
		{"integer too large", rich, `{"count":99999999999999999999}`, "count", "integer out of range"},
		{"integer above maximum", rich, `{"count":11}`, "count", "allowed range"},
		{"number below minimum", rich, `{"ratio":-0.1}`, "ratio", "allowed range"},
		{"number overflows", rich, `{"ratio":1e999}`, "ratio", "number out of range"},
		{"not in enum", rich, `{"field":"owner"}`, "field", "allowed values"},
		{"string too long", rich, `{"name":"abcdef"}`, "name", "longer than 5"},
		{"string too short", rich, `{"name":""}`, "name", "shorter than 1"},
		{"wrong item type", rich, `{"tags":["a",1]}`, "tags[1]", "expected string, got number"},
		{"nested array item", rich, `{"tags":[["a"]]}`, "tags[0]", "expected string, got array"},
		{"nested unknown key", rich, `{"nested":{"k":"v","x":"y"}}`, "nested", `unknown key "x"`},
		{"nested missing required", rich, `{"nested":{}}`, "nested.k", "required"},
		{"oversized", payments, `{"customer_id":"` + strings.Repeat("a", MaxSize) + `"}`, "", "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.s.Decode([]byte(tt.in))
			var ae *ArgError
			if !errors.As(err, &ae) {
				t.Fatalf("Decode(%.80s) = %v, %v; want *ArgError", tt.in, got, err)
			}
			if ae.Field != tt.wantField || !strings.Contains(ae.Error(), tt.wantIn) {
				t.Errorf("Decode(%.80s) error = {Field:%q Reason:%q Key:%q}, want field %q and a message containing %q",
					tt.in, ae.Field, ae.Reason, ae.Key, tt.wantField, tt.wantIn)
			}
			if ae.Key != "" && strings.Contains(ae.Redacted(), ae.Key) {
				t.Errorf("Redacted() = %q quotes the key %q", ae.Redacted(), ae.Key)
			}
		})
	}
}

func TestDecode_RefusesDeepNesting(t *testing.T) {
	// A schema nested exactly MaxDepth objects deep; arguments one deeper
	// than that cannot be expressed, so the depth check is on the schema.
	inner := `{"type":"string"}`
	for range MaxDepth - 1 {
		inner = `{"type":"object","properties":{"a":` + inner + `}}`
	}
	s := mustCompile(t, inner)
	doc := `"x"`
	for range MaxDepth - 1 {
		doc = `{"a":` + doc + `}`
	}
	if _, err := s.Decode([]byte(doc)); err != nil {
		t.Errorf("Decode at depth %d: %v", MaxDepth, err)
	}
	if _, err := Compile(json.RawMessage(`{"type":"object","properties":{"a":` + inner + `}}`)); err == nil {
		t.Errorf("Compile accepted a schema deeper than %d", MaxDepth)
	}
}

func TestArgError_NamesFieldAndReason(t *testing.T) {
	err := &ArgError{Field: "customer_id", Reason: "duplicate key"}
	if got, want := err.Error(), "invalid arguments: customer_id: duplicate key"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func BenchmarkDecode(b *testing.B) {
	s := mustCompile(b, paymentsSchema)
	raw := []byte(`{"customer_id":"C-100"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Decode(raw); err != nil {
			b.Fatal(err)
		}
	}
}
