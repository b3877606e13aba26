package metrics

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/llm"
)

func TestLabels_OnlyConfigNamesAndFixedValues(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{toolLabel("tool:claims_status"), "claims_status"},
		{toolLabel("tool:(unknown)"), "unknown"},
		{toolLabel("tool:unknown"), "unknown"},
		{toolLabel("claims_status"), "unknown"},
		{toolLabel("tool:" + strings.Repeat("x", 200)), "unknown"},
		{toolLabel("tool:say \"hi\"\n"), "unknown"},
		{runLabel("agent:support_agent"), "support_agent"},
		{runLabel("model:gpt-4o-mini"), "passthrough:gpt-4o-mini"},
		{runLabel("session:ses_1"), "unknown"},
		{label(""), "unknown"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

type fakeSink struct{ err error }

func (f fakeSink) Record(context.Context, ...audit.Event) error { return f.err }

func TestAuditSink_CountsDurableEventsAndUnavailability(t *testing.T) {
	m := New()
	ok := m.AuditSink(fakeSink{})
	_ = ok.Record(context.Background(),
		audit.Event{Type: audit.TypeToolDecided, Resource: "tool:claims_status", Decision: audit.Allow, Subject: "alice"},
		audit.Event{Type: audit.TypeRunFinished, Resource: "agent:support_agent", Outcome: "ok", LatencyMS: 1200})
	down := m.AuditSink(fakeSink{err: fmt.Errorf("commit: %w", audit.ErrUnavailable)})
	// Not durable: neither decision nor run is counted.
	if err := down.Record(context.Background(), audit.Event{Type: audit.TypeToolDecided, Resource: "tool:claims_status", Decision: audit.Allow}); !errors.Is(err, audit.ErrUnavailable) {
		t.Fatalf("error not passed on: %v", err)
	}
	if n := testutil.ToFloat64(m.toolDecisions.WithLabelValues("claims_status", "allow")); n != 1 {
		t.Errorf("allow decisions: %v", n)
	}
	if n := testutil.ToFloat64(m.runs.WithLabelValues("support_agent", "ok")); n != 1 {
		t.Errorf("runs: %v", n)
	}
	if n := testutil.ToFloat64(m.auditDown); n != 1 {
		t.Errorf("audit unavailable: %v", n)
	}
	if n := testutil.CollectAndCount(m.auditCommit); n != 1 {
		t.Errorf("commit histogram series: %d", n)
	}
}

type fakeModel struct{ err error }

func (f fakeModel) Name() string { return "fake" }
func (f fakeModel) Complete(context.Context, llm.Request) (*llm.Response, error) {
	if f.err != nil {
		return nil, f.err
	}
	return &llm.Response{Usage: llm.Usage{PromptTokens: 7, CompletionTokens: 3}}, nil
}

func TestModel_LabelsOnlyConfiguredModels(t *testing.T) {
	m := New()
	md := m.Model(fakeModel{}, "gpt-4o-mini", []string{"llama3"})
	for _, name := range []string{"", "llama3", "a-model-the-caller-named"} {
		if _, err := md.Complete(context.Background(), llm.Request{Model: name}); err != nil {
			t.Fatal(err)
		}
	}
	_, _ = m.Model(fakeModel{err: llm.ErrProvider}, "gpt-4o-mini", nil).Complete(context.Background(), llm.Request{})
	for model, want := range map[string]float64{"gpt-4o-mini": 7, "llama3": 7, "other": 7} {
		if n := testutil.ToFloat64(m.modelTokens.WithLabelValues(model, "prompt")); n != want {
			t.Errorf("prompt tokens of %s: %v, want %v", model, n, want)
		}
	}
	if n := testutil.ToFloat64(m.modelErrors.WithLabelValues("gpt-4o-mini")); n != 1 {
		t.Errorf("errors: %v", n)
	}
	if _, ok := md.(llm.Streamer); !ok {
		t.Error("the measured model does not stream")
	}
}

func TestStatusLabel_IsTheStatusInDecimal(t *testing.T) {
	for status := 100; status < 600; status++ {
		if got := statusLabel(status); got != strconv.Itoa(status) {
			t.Fatalf("statusLabel(%d) = %q", status, got)
		}
	}
}
