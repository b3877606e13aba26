package tools_test

import (
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse/internal/tools"
	"github.com/gatehousehq/gatehouse/internal/tools/schema"
)

func TestValidName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"lookup", true},
		{"crm_lookup-2", true},
		{"A", true},
		{strings.Repeat("a", 64), true},
		{"", false},
		{"1lookup", false},
		{"_lookup", false},
		{"-lookup", false},
		{strings.Repeat("a", 65), false},
		{"look up", false},
		{"look.up", false},
		{"lookup\n", false},
		{"lоokup", false}, // Cyrillic о
	} {
		if got := tools.ValidName(tc.name); got != tc.ok {
			t.Errorf("ValidName(%q) = %v, want %v", tc.name, got, tc.ok)
		}
	}
}

func TestEmptySchema_CompilesAndIsNotShared(t *testing.T) {
	if _, err := schema.Compile(tools.EmptySchema()); err != nil {
		t.Fatalf("compile: %v", err)
	}
	a := tools.EmptySchema()
	a[0] = 'x'
	if b := tools.EmptySchema(); b[0] != '{' {
		t.Fatalf("EmptySchema shares its bytes: %s", b)
	}
}
