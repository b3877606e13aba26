package telemetry

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehousehq/gatehouse/internal/audit"
)

// Sink records through Next, stamping each event that has no trace id with
// ctx's, inside an "audit commit" span: the trace shows how long each
// step waited for its events to be durable.
type Sink struct {
	Next   audit.Sink
	Tracer trace.Tracer
}

var _ audit.Sink = Sink{}

// Record implements audit.Sink.
func (s Sink) Record(ctx context.Context, events ...audit.Event) error {
	if Off(s.Tracer) {
		return s.Next.Record(ctx, StampTraceID(ctx, events)...)
	}
	ctx, span := s.Tracer.Start(ctx, "audit commit", trace.WithAttributes(
		attribute.Int("gatehouse.audit.events", len(events))))
	defer span.End()
	err := s.Next.Record(ctx, StampTraceID(ctx, events)...)
	if err != nil {
		desc := "audit commit failed"
		if errors.Is(err, audit.ErrUnavailable) {
			desc = "audit log unavailable"
		}
		span.SetStatus(codes.Error, desc)
	}
	return err
}

// StampTraceID returns events with ctx's trace id set where they have
// none; events is not changed (it may be the caller's).
func StampTraceID(ctx context.Context, events []audit.Event) []audit.Event {
	id := TraceID(ctx)
	if id == "" {
		return events
	}
	out := make([]audit.Event, len(events))
	for i, e := range events {
		if e.TraceID == "" {
			e.TraceID = id
		}
		out[i] = e
	}
	return out
}
