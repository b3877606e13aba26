package schema

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehousehq/gatehouse/internal/tools"
)

const mailSchema = `{
	"type": "object",
	"properties": {
		"to":   {"type": "string"},
		"body": {"type": "string"},
		"tags": {"type": "array", "items": {"type": "string"}},
		"meta": {"type": "object", "properties": {"ref": {"type": "string"}}},
		"raw":  {"type": "string", "x-gatehouse-allow-control": true}
	}
}`

// A NUL lets "boss@evil.example\u0000@bank.example" pass a condition such as
// args.to.endsWith("@bank.example") while a mail system reads up to the NUL.
func TestDecode_RefusesControlCharactersInStrings(t *testing.T) {
	s := mustCompile(t, mailSchema)
	tests := []struct {
		name, in, field string
	}{
		{"NUL escape", `{"to":"boss@evil.example\u0000@bank.example"}`, "to"},
		{"escape character", `{"body":"a\u001bb"}`, "body"},
		{"unit separator", `{"body":"a\u001fb"}`, "body"},
		{"backspace escape", `{"body":"a\bb"}`, "body"},
		{"form feed escape", `{"body":"a\fb"}`, "body"},
		{"in an array item", `{"tags":["ok","x\u0000y"]}`, "tags[1]"},
		{"in a nested object", `{"meta":{"ref":"\u0007"}}`, "meta.ref"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Decode([]byte(tt.in))
			var ae *ArgError
			if !errors.As(err, &ae) {
				t.Fatalf("Decode(%s) = %v, want an ArgError", tt.in, err)
			}
			if ae.Field != tt.field || !strings.Contains(ae.Reason, "control character") {
				t.Errorf("error %+v, want field %q and a control-character reason", ae, tt.field)
			}
			if strings.Contains(ae.Error(), "evil") || strings.Contains(ae.Error(), "bank") {
				t.Errorf("the error %q quotes the value", ae.Error())
			}
		})
	}
}

func TestDecode_AllowsWhitespaceControlsAndOptIn(t *testing.T) {
	s := mustCompile(t, mailSchema)
	tests := []struct {
		name, in string
		want     tools.Args
	}{
		{"tab, newline, carriage return", `{"body":"a\tb\r\nc"}`, tools.Args{"body": "a\tb\r\nc"}},
		{"DEL and above are not C0", `{"body":"a\u007fé"}`, tools.Args{"body": "a\u007fé"}},
		{"opted-in property", `{"raw":"a\u0000\u001bb"}`, tools.Args{"raw": "a\x00\x1bb"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Decode([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Decode (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCompile_AllowControlIsForStringsOnly(t *testing.T) {
	for _, raw := range []string{
		`{"type":"object","properties":{"n":{"type":"integer","x-gatehouse-allow-control":true}}}`,
		`{"type":"object","x-gatehouse-allow-control":true}`,
	} {
		if _, err := Compile([]byte(raw)); err == nil {
			t.Errorf("Compile(%s) accepted x-gatehouse-allow-control off a string", raw)
		}
	}
}
