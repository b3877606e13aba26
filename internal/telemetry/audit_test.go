package telemetry

import (
	"context"
	"testing"

	"github.com/gatehousehq/gatehouse/internal/audit"
)

type recordingSink struct{ got []audit.Event }

func (s *recordingSink) Record(_ context.Context, evs ...audit.Event) error {
	s.got = append(s.got, evs...)
	return nil
}

func TestSink_StampsTheTraceIDWithoutChangingTheCallersEvents(t *testing.T) {
	next := &recordingSink{}
	s := Sink{Next: next, Tracer: Tracer(nil)}
	evs := []audit.Event{{Type: audit.TypeRunStarted}, {Type: audit.TypeRunFinished, TraceID: "0af7651916cd43dd8448eb211c80319c"}}
	if err := s.Record(remoteCtx(t), evs...); err != nil {
		t.Fatal(err)
	}
	if next.got[0].TraceID != "4bf92f3577b34da6a3ce929d0e0e4736" || next.got[1].TraceID != "0af7651916cd43dd8448eb211c80319c" {
		t.Errorf("recorded trace ids %q, %q", next.got[0].TraceID, next.got[1].TraceID)
	}
	if evs[0].TraceID != "" {
		t.Error("the caller's event was changed")
	}
	next.got = nil
	if err := s.Record(context.Background(), audit.Event{Type: audit.TypeRunStarted}); err != nil || next.got[0].TraceID != "" {
		t.Errorf("outside a trace: trace id %q, %v", next.got[0].TraceID, err)
	}
}

// With tracing off the audit commit's span, and its attributes, are not
// built: recording outside a trace costs the next sink's work alone.
func TestSink_TracingOffAddsNoAllocations(t *testing.T) {
	s := Sink{Next: discardSink{}, Tracer: Tracer(nil)}
	evs := []audit.Event{{Type: audit.TypeRunStarted}}
	ctx := context.Background()
	if n := testing.AllocsPerRun(100, func() { _ = s.Record(ctx, evs...) }); n != 0 {
		t.Errorf("Record allocates %v times per call with tracing off", n)
	}
}

type discardSink struct{}

func (discardSink) Record(context.Context, ...audit.Event) error { return nil }
