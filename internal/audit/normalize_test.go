package audit

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestNormalize_FastPathEqualsRoundTrip(t *testing.T) {
	local := time.FixedZone("X", 3*3600)
	events := []Event{
		{Type: "run.started"},
		{Type: "tool.decided", Time: time.Now(), Roles: []string{}, Content: map[string]string{}},
		{Type: "tool.decided", Time: time.Date(2026, 11, 28, 9, 1, 2, 300, local), Roles: []string{"agent", "<admin>"},
			Content: map[string]string{"arguments": `{"a":"\u2028 & <b>"}`, "é": "ü"}, Usage: &Usage{1, 2, 3},
			Subject: "spiffe://corp/ns/ops", Reason: "line\nbreak \"quoted\" \\ tab\t", Count: 7, LatencyMS: 12, Hash: "kept"},
		{Type: "x", Time: time.Unix(0, 1), Usage: &Usage{}},
		{Type: "x", Actor: []Actor{}},
		{Type: "x", Actor: []Actor{{Subject: "bot <1>"}, {ClientID: "cli"}}},
	}
	for i, e := range events {
		if !validUTF8(e) {
			t.Fatalf("event %d: expected valid UTF-8", i)
		}
		want, err := roundTrip(e)
		if err != nil {
			t.Fatal(err)
		}
		got := normalizeValid(e)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("event %d: fast path differs from the round trip (-want +got):\n%s", i, diff)
		}
		wb, _ := EncodeCanonical(want)
		gb, _ := EncodeCanonical(got)
		if string(wb) != string(gb) {
			t.Errorf("event %d: encodings differ:\n%s\n%s", i, wb, gb)
		}
	}
	bad := Event{Type: "x", Reason: "bad \xff byte"}
	if validUTF8(bad) {
		t.Fatal("invalid UTF-8 not detected")
	}
	n, err := normalize(bad)
	if err != nil || n.Reason != "bad \ufffd byte" {
		t.Errorf("slow path: %q %v", n.Reason, err)
	}
}
