package httpapi

import (
	"context"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehousehq/gatehouse/internal/telemetry"
)

// startSpan is the request's server span, continuing the caller's trace
// when it sent a valid traceparent. Named for the method until the route
// is known (endSpan).
func (s *Server) startSpan(r *http.Request, requestID string) (context.Context, trace.Span) {
	ctx := telemetry.Extract(r.Context(), r.Header)
	if telemetry.Off(s.Tracer) {
		return telemetry.Untraced(ctx)
	}
	ctx, span := s.Tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
		attribute.String("http.request.method", r.Method),
		attribute.String("gatehouse.request_id", requestID),
	))
	return ctx, span
}

// endSpan names the span by the route pattern that served it ("POST
// /v1/chat"), never the path (which may hold ids), and records the status
// and the caller's authentication method, never who the caller is.
func endSpan(span trace.Span, r *http.Request, info *reqInfo, status int) {
	if !span.IsRecording() {
		return
	}
	if r.Pattern != "" {
		span.SetName(r.Pattern)
		_, route, _ := strings.Cut(r.Pattern, " ")
		span.SetAttributes(attribute.String("http.route", route))
	}
	span.SetAttributes(attribute.Int("http.response.status_code", status))
	if info.authMethod != "" {
		span.SetAttributes(attribute.String("gatehouse.auth.method", info.authMethod))
	}
	if status >= 500 {
		span.SetStatus(codes.Error, http.StatusText(status))
	}
	span.End()
}
