package passthrough

import (
	"encoding/json"
	"testing"
)

// list writes what encoding/json writes, whether it joins the names
// itself or not.
func TestList_IsTheNamesAsJSON(t *testing.T) {
	for _, names := range [][]string{
		{"send_email"}, {"send_email", "wire-money", "ns.tool:v2", "undeclared"},
		{"a<b"}, {`quo"te`}, {"back\\slash"}, {"é"}, {"new\nline"}, {"ok", "\u2028"},
	} {
		want, _ := json.Marshal(names)
		if got := list(names); got != string(want) {
			t.Errorf("list(%q) = %s; want %s", names, got, want)
		}
	}
	if got := list(nil); got != "none" {
		t.Errorf("list(nil) = %q; want none", got)
	}
}
