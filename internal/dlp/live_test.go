package dlp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/dlp"
)

type keepSink struct{ evs []audit.Event }

func (k *keepSink) Record(_ context.Context, evs ...audit.Event) error {
	k.evs = append(k.evs, evs...)
	return nil
}

func TestSinkAndLogHandler_ScrubEveryValueOnceLive(t *testing.T) {
	live := &dlp.Live{}
	next := &keepSink{}
	sink := dlp.Sink{Next: next, Live: live}
	var logged bytes.Buffer
	log := slog.New(dlp.LogHandler(live, slog.NewJSONHandler(&logged, nil)))
	ev := audit.Event{Type: audit.TypeToolFinished, Reason: "card " + card, Content: map[string]string{"error": "no card " + card}}

	_ = sink.Record(context.Background(), ev)
	log.Info("before "+card, "err", errors.New(card))
	if b, _ := json.Marshal(next.evs[0]); !strings.Contains(string(b), "4111") || !strings.Contains(logged.String(), "4111") {
		t.Fatal("nothing live: passed as is")
	}
	live.Set(newProtector(t))
	next.evs, logged = nil, bytes.Buffer{}
	_ = sink.Record(context.Background(), ev)
	log.Info("card "+card, "err", errors.New("card "+card), slog.Group("g", "v", card))
	b, _ := json.Marshal(next.evs[0])
	if strings.Contains(string(b), "4111") || strings.Contains(logged.String(), "4111") {
		t.Errorf("audit %s\nlog %s", b, logged.String())
	}
	if ev.Content["error"] != "no card "+card {
		t.Error("the caller's event was changed")
	}
}

// Events holding no value pass as they are; from the first one that does,
// the sink records copies, and never changes the caller's.
func TestSink_CopiesOnlyFromTheFirstEventToScrub(t *testing.T) {
	live := &dlp.Live{}
	live.Set(newProtector(t))
	next := &keepSink{}
	sink := dlp.Sink{Next: next, Live: live}
	evs := []audit.Event{
		{Type: audit.TypeRunStarted, Subject: "alice", Content: map[string]string{"message": "hello"}},
		{Type: audit.TypeToolDecided, Rule: "role:agent", Content: map[string]string{"arguments": `{"card":"` + card + `"}`}},
		{Type: audit.TypeToolFinished, Reason: "card " + card},
		{Type: audit.TypeRunFinished, Resource: "agent:a"},
	}
	if err := sink.Record(context.Background(), evs...); err != nil {
		t.Fatal(err)
	}
	if len(next.evs) != len(evs) {
		t.Fatalf("recorded %d events; want %d", len(next.evs), len(evs))
	}
	for i, ev := range next.evs {
		if ev.Type != evs[i].Type {
			t.Errorf("event %d is %s; want %s", i, ev.Type, evs[i].Type)
		}
		if b, _ := json.Marshal(ev); strings.Contains(string(b), "4111") {
			t.Errorf("event %d recorded with the card: %s", i, b)
		}
	}
	if next.evs[0].Content["message"] != "hello" || next.evs[3].Resource != "agent:a" || next.evs[1].Rule != "role:agent" {
		t.Errorf("clean values changed: %+v", next.evs)
	}
	if !strings.Contains(evs[1].Content["arguments"], card) || evs[2].Reason != "card "+card {
		t.Error("the caller's events were changed")
	}
}
