package audit

import (
	"strings"
	"testing"
	"time"
)

func fullEventWithoutTraceID() Event {
	return Event{
		Seq: 42, Time: time.Date(2026, 11, 30, 9, 15, 0, 5, time.UTC), ChainID: "9f3c2a1b00d4e5f6",
		PrevHash: "ab" + GenesisHash[2:], RequestID: "req_1", RunID: "run_1", SessionID: "ses_1",
		Type: TypeRunFinished, Subject: "customer", AuthMethod: "api_key", Issuer: "https://idp.test/",
		Roles: []string{"customer", "viewer"}, Decision: Allow, Rule: "role customer", Reason: "ok",
		Resource: "agent:support", Content: map[string]string{"response": "hi"}, Outcome: "ok",
		LatencyMS: 12, Model: "gpt-4o-mini", Usage: &Usage{PromptTokens: 1, CompletionTokens: 2, TotalTokens: 3}, Count: 1,
	}
}

// Logs written before events carried a trace id must still verify: an
// event without one hashes as the code before TraceID did.
func TestCanonical_EventWithoutTraceIDHashesAsBefore(t *testing.T) {
	// Computed by the canonical encoding as it was before TraceID existed.
	const golden = "e63311f345b81ca957ce8eca65d1df1f821992fdca65f4ef66c9bcc457f4bf81"
	e := fullEventWithoutTraceID()
	h, err := ComputeHash(e)
	if err != nil {
		t.Fatal(err)
	}
	if h != golden {
		t.Errorf("hash of an event without trace id = %s, want the pre-tracing %s", h, golden)
	}
	b, _ := EncodeCanonical(e)
	if strings.Contains(string(b), "trace_id") {
		t.Errorf("encoding of an event without trace id names it: %s", b)
	}
}

func TestCanonical_TraceIDIsChainedAndRoundTrips(t *testing.T) {
	e := fullEventWithoutTraceID()
	e.TraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	b, err := EncodeCanonical(e)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(b), `"count":1,"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}`) {
		t.Errorf("encoding = %s, want trace_id last", b)
	}
	with, _ := ComputeHash(e)
	e.TraceID = ""
	without, _ := ComputeHash(e)
	if with == without {
		t.Error("the trace id does not change the hash: an edit of it would go unnoticed")
	}
	d, err := DecodeCanonical(b)
	if err != nil {
		t.Fatal(err)
	}
	if d.TraceID != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("decoded TraceID = %q", d.TraceID)
	}
}
