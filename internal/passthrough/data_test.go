package passthrough_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/dlp"
)

const card = "4111 1111 1111 1111"

// Each finding in the client's conversation is recorded with the message
// it was in: the caller's words by index and role, a client tool's result,
// and a released call's arguments; a message without one names nothing.
func TestComplete_FindingsNameTheMessageTheyWereIn(t *testing.T) {
	h := newHarness(t, answers("done"))
	c := released(t, h, alice, `{"to":"bob@bank.example","body":"card `+card+`"}`)
	p, err := dlp.New(dlp.Config{Detectors: dlp.Builtin(), Actions: map[string]dlp.Action{dlp.Card: dlp.Redact},
		Key: []byte(strings.Repeat("k", 32))})
	if err != nil {
		t.Fatal(err)
	}
	h.svc.Data = p
	_, err = h.svc.Complete(context.Background(), request(alice,
		user("nothing here"), user("my card is "+card), assistant(c), result(c.ID, "sent, card "+card)))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range h.audit.all() {
		if e.Type == audit.TypeDataFound {
			where, _, _ := strings.Cut(strings.TrimPrefix(e.Reason, "found in "), "; keyed hash")
			got = append(got, e.Resource+" in "+where)
		}
	}
	want := []string{
		"data:card in the client's messages[1] (user)",
		"data:email in the client's messages[2] (assistant) tool call arguments",
		"data:card in the client's messages[2] (assistant) tool call arguments",
		"data:card in a client tool's result, messages[3]",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("places of the findings (-want +got):\n%s", diff)
	}
}
