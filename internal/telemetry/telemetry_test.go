package telemetry

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

func remoteCtx(t *testing.T) context.Context {
	t.Helper()
	h := http.Header{}
	h.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	ctx := Extract(context.Background(), h)
	if !trace.SpanContextFromContext(ctx).IsValid() {
		t.Fatal("Extract did not read a valid traceparent")
	}
	return ctx
}

func TestTransport_InjectsTraceparentOnlyWithASpan(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("Traceparent"))
	}))
	defer srv.Close()
	c := &http.Client{Transport: Transport{}}
	for _, ctx := range []context.Context{remoteCtx(t), context.Background()} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if req.Header.Get("Traceparent") != "" {
			t.Error("the caller's request was changed in place")
		}
	}
	want := []string{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", ""}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("traceparents received = %q, want %q", got, want)
	}
}

func TestExtract_IgnoresAMalformedTraceparent(t *testing.T) {
	h := http.Header{}
	h.Set("Traceparent", "00-not-a-trace-01")
	if id := TraceID(Extract(context.Background(), h)); id != "" {
		t.Errorf("TraceID = %q from a malformed traceparent", id)
	}
}

func TestLogHandler_AddsTraceID(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(LogHandler(slog.NewJSONHandler(&buf, nil)))
	log.InfoContext(remoteCtx(t), "traced")
	log.InfoContext(context.Background(), "untraced")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if !strings.Contains(lines[0], `"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"`) || strings.Contains(lines[1], "trace_id") {
		t.Errorf("log lines:\n%s", buf.String())
	}
}

func TestUntraced_KeepsTheCallersTraceAndRecordsNothing(t *testing.T) {
	if !Off(Tracer(nil)) || !Off(nil) {
		t.Fatal("the no-op tracer is not Off")
	}
	ctx, span := Untraced(remoteCtx(t))
	if span.IsRecording() {
		t.Error("an untraced span records")
	}
	if id := TraceID(ctx); id != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("TraceID = %q under the caller's traceparent", id)
	}
	if _, span := Untraced(context.Background()); span.IsRecording() || span.SpanContext().IsValid() {
		t.Error("an untraced span outside a trace has a span context")
	}
}
