package audit

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestScopes_EncodedLastAndOnlyWhenSet: events recorded before scopes were
// keep their bytes (TestCanonicalEncodingIsStable); one with scopes ends
// with them, and round-trips.
func TestScopes_EncodedLastAndOnlyWhenSet(t *testing.T) {
	e := Event{Seq: 1, Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), ChainID: "c", PrevHash: GenesisHash,
		Type: TypeToolDecided, Subject: "bot", Roles: []string{"agent"}, Scopes: []string{"tickets:write"}, TraceID: "ab"}
	b, err := EncodeCanonical(e)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(b), `,"trace_id":"ab","scopes":["tickets:write"]}`) {
		t.Errorf("encoding %s does not end with the scopes", b)
	}
	back, err := DecodeCanonical(b)
	if err != nil || !slices.Equal(back.Scopes, e.Scopes) {
		t.Errorf("round trip: %v %q", err, back.Scopes)
	}
	long := make([]string, MaxRoles+5)
	for i := range long {
		long[i] = "s"
	}
	if got := bound(Event{Scopes: long}).Scopes; len(got) != MaxRoles+1 || got[MaxRoles] != "…(cut, 69 scopes)" {
		t.Errorf("bounded scopes: %d, last %q", len(got), got[len(got)-1])
	}
}
