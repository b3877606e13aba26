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
