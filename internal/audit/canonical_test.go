package audit

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// A field of Event that the canonical encoding leaves out would not be
// protected by the chain.
func TestCanonicalEncodingCoversEveryEventField(t *testing.T) {
	tags := func(v any, skip string) []string {
		var out []string
		rt := reflect.TypeOf(v)
		for i := range rt.NumField() {
			tag := rt.Field(i).Tag.Get("json")
			if name, _, _ := cutComma(tag); name != skip {
				out = append(out, name)
			}
		}
		slices.Sort(out)
		return out
	}
	if diff := cmp.Diff(tags(Event{}, "hash"), tags(canonicalEvent{}, "v")); diff != "" {
		t.Errorf("canonicalEvent fields differ from Event's (-Event +canonical):\n%s", diff)
	}
}

func cutComma(s string) (string, string, bool) {
	for i := range len(s) {
		if s[i] == ',' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// The encoding and hash are a format: other tools verify logs with them, so
// they must not drift.
func TestCanonicalEncodingIsStable(t *testing.T) {
	e := Event{
		Seq: 7, Time: time.Date(2025, 3, 1, 13, 0, 0, 120000000, time.FixedZone("CET", 3600)),
		ChainID: "c1", PrevHash: GenesisHash, Type: TypeToolDecided, Subject: "alice",
		Roles: []string{"agent"}, Decision: Allow, Resource: "claims_status",
		Content: map[string]string{"b": "2", "a": "<1>"}, Usage: &Usage{TotalTokens: 3},
	}
	b, err := EncodeCanonical(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"v":1,"chain_id":"c1","seq":7,"time":"2025-03-01T12:00:00.12Z","prev_hash":"` + GenesisHash +
		`","type":"tool.decided","subject":"alice","roles":["agent"],"decision":"allow","resource":"claims_status",` +
		`"content":{"a":"\u003c1\u003e","b":"2"},"usage":{"prompt_tokens":0,"completion_tokens":0,"total_tokens":3}}`
	if string(b) != want {
		t.Errorf("EncodeCanonical =\n%s\nwant\n%s", b, want)
	}
	h, err := ComputeHash(e)
	if err != nil {
		t.Fatal(err)
	}
	// sha256(prev_hash + "\n" + encoding), computed independently.
	const wantHash = "23bb2a04519b4461d1382567f3012577215e73e6e79cace4c205347766acbc4f"
	if h != wantHash {
		t.Errorf("ComputeHash = %s, want %s", h, wantHash)
	}
	e2, err := DecodeCanonical(b)
	if err != nil {
		t.Fatal(err)
	}
	if h2, _ := ComputeHash(e2); h2 != h {
		t.Errorf("hash after a decode round trip = %s, want %s", h2, h)
	}
}

func TestNormalizeMakesTimeUTCAndDropsMonotonic(t *testing.T) {
	n, err := normalize(Event{Type: "x", Time: time.Now(), Roles: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if n.Time.Location() != time.UTC || n.Time != n.Time.Round(0) || n.Roles != nil {
		t.Errorf("normalize = %+v", n)
	}
}

// An event stored before the actor field existed verifies with its old
// hash; a delegated event's encoding names the chain, so editing it out
// breaks the hash.
func TestCanonicalEncoding_ActorAddedWithoutChangingOldHashes(t *testing.T) {
	// The encoding and hash of TestCanonicalEncodingIsStable's event, as
	// stored by a build before actors.
	const stored = `{"v":1,"chain_id":"c1","seq":7,"time":"2025-03-01T12:00:00.12Z","prev_hash":"` +
		"0000000000000000000000000000000000000000000000000000000000000000" +
		`","type":"tool.decided","subject":"alice","roles":["agent"],"decision":"allow","resource":"claims_status",` +
		`"content":{"a":"\u003c1\u003e","b":"2"},"usage":{"prompt_tokens":0,"completion_tokens":0,"total_tokens":3}}`
	const storedHash = "23bb2a04519b4461d1382567f3012577215e73e6e79cace4c205347766acbc4f"
	old, err := DecodeCanonical([]byte(stored))
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := ComputeHash(old); h != storedHash {
		t.Fatalf("old event's hash = %s, want %s", h, storedHash)
	}
	delegated := old
	delegated.Actor = []Actor{{Subject: "support-bot"}, {ClientID: "platform"}}
	b, err := EncodeCanonical(delegated)
	if err != nil {
		t.Fatal(err)
	}
	wantTail := `,"actor":[{"subject":"support-bot"},{"client_id":"platform"}]}`
	if !strings.HasSuffix(string(b), wantTail) {
		t.Errorf("encoding %s does not end with %s", b, wantTail)
	}
	back, err := DecodeCanonical(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(delegated.Actor, back.Actor); diff != "" {
		t.Errorf("actor after a round trip (-want +got):\n%s", diff)
	}
	if h, _ := ComputeHash(delegated); h == storedHash {
		t.Error("the actor chain is not covered by the hash")
	}
}
