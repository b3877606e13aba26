// Package telemetry is gatehouse's side of OpenTelemetry tracing, on the API
// alone (no SDK): the tracer every package takes from its wiring, W3C trace
// context in and out of HTTP, the trace id in audit events and log lines,
// and spans around the audit commit and the model. Package telemetry/otlp
// builds the SDK's exporting provider; only the wiring imports it.
//
// Spans carry names, ids, counts and decisions — never a token, key or
// message content.
package telemetry

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// ScopeName is the instrumentation scope of gatehouse's spans.
const ScopeName = "github.com/gatehousehq/gatehouse"

// Tracer is tp's tracer for gatehouse, or a no-op tracer when tp is nil
// (tracing off): callers never check.
func Tracer(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	return tp.Tracer(ScopeName)
}

// Off reports whether tr traces nothing: nil or the no-op tracer of
// tracing off. Callers then skip their spans (Untraced), and with them the
// names and attributes they would build for no one.
func Off(tr trace.Tracer) bool {
	if tr == nil {
		return true
	}
	_, ok := tr.(noop.Tracer)
	return ok
}

// Untraced is what the no-op tracer's Start gives, without its cost: ctx
// unchanged, and ctx's own span when that records nothing (a caller's
// remote span context, whose trace id still reaches the audit events), or
// else an empty one.
func Untraced(ctx context.Context) (context.Context, trace.Span) {
	if span := trace.SpanFromContext(ctx); !span.IsRecording() {
		return ctx, span
	}
	return ctx, trace.SpanFromContext(context.Background())
}

// propagator is W3C trace context only: gatehouse reads and writes
// traceparent and tracestate, and no baggage (whose values a caller
// chooses and a tool would receive).
var propagator = propagation.TraceContext{}

// Extract returns ctx carrying the remote span context of an incoming
// request's traceparent, if it has a valid one.
func Extract(ctx context.Context, h http.Header) context.Context {
	if len(h["Traceparent"]) == 0 {
		// Nothing to read (a received request's keys are canonical); Get
		// would canonicalize the lower-case key, an allocation per request.
		return ctx
	}
	return propagator.Extract(ctx, propagation.HeaderCarrier(h))
}

// Inject sets traceparent (and tracestate) on an outgoing request's
// headers from the span in ctx; with no valid span it sets nothing. Every
// outgoing call made on a run's behalf — the model, HTTP tools, MCP
// servers — goes through it.
func Inject(ctx context.Context, h http.Header) {
	propagator.Inject(ctx, propagation.HeaderCarrier(h))
}

// TraceID is the hex trace id of the span in ctx, or "" when there is none.
func TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.HasTraceID() {
		return ""
	}
	return sc.TraceID().String()
}

// Transport injects trace context into every request it sends through
// next: the hook for clients that make their own requests (an MCP server
// over streamable HTTP; a stdio MCP server gets traceparent in the
// request's params._meta instead, from Inject on a header carrier).
// next (http.DefaultTransport when nil). It does not change a request's
// headers in place: the request is cloned when it gains them.
type Transport struct{ Next http.RoundTripper }

// RoundTrip implements http.RoundTripper.
func (t Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	next := t.Next
	if next == nil {
		next = http.DefaultTransport
	}
	if trace.SpanContextFromContext(r.Context()).IsValid() {
		r = r.Clone(r.Context())
		Inject(r.Context(), r.Header)
	}
	return next.RoundTrip(r)
}
