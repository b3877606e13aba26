package agent

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/telemetry"
)

// Span attributes of a run (OpenTelemetry GenAI conventions where they
// have a name, gatehouse.* otherwise). Names and decisions only: never
// arguments, messages or the subject.
const (
	attrOperation = "gen_ai.operation.name"
	attrAgentName = "gen_ai.agent.name"
	attrToolName  = "gen_ai.tool.name"
	attrToolCall  = "gen_ai.tool.call.id"
	attrRunID     = "gatehouse.run_id"
	attrDecision  = "gatehouse.decision"
	attrRule      = "gatehouse.rule"
	attrStatus    = "gatehouse.tool.status"
	attrOutcome   = "gatehouse.run.outcome"
)

// traced reports whether the run's spans are made: with tracing off they
// are skipped, names and attributes included (telemetry.Untraced).
func (r *Runner) traced() bool { return !telemetry.Off(r.Tracer) }

// startRun is the run's span, the parent of its model turns, decisions,
// tool calls and audit commits.
func (r *Runner) startRun(ctx context.Context, req RunRequest) (context.Context, trace.Span) {
	if !r.traced() {
		return telemetry.Untraced(ctx)
	}
	return r.Tracer.Start(ctx, "invoke_agent "+req.Agent.Name, trace.WithAttributes(
		attribute.String(attrOperation, "invoke_agent"),
		attribute.String(attrAgentName, req.Agent.Name),
		attribute.String(attrRunID, req.RunID),
	))
}

func endRun(span trace.Span, outcome string) {
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(attribute.String(attrOutcome, outcome))
	if outcome != OutcomeOK {
		span.SetStatus(codes.Error, outcome)
	}
	span.End()
}

// toolSpanName is a call's tool as a span may name it: a configured name,
// or "unknown" for one the model made up (which may hold anything).
func toolSpanName(exists bool, name string) string {
	if exists {
		return name
	}
	return "unknown"
}

// startAuthorize is the span of one tool call's decision and its durable
// record.
func (r *Runner) startAuthorize(ctx context.Context, tool, callID string) (context.Context, trace.Span) {
	if !r.traced() {
		return telemetry.Untraced(ctx)
	}
	return r.Tracer.Start(ctx, "authorize "+tool, trace.WithAttributes(
		attribute.String(attrToolName, tool), attribute.String(attrToolCall, callID)))
}

func endAuthorize(span trace.Span, decided audit.Event, err error) {
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(attribute.String(attrDecision, decided.Decision), attribute.String(attrRule, decided.Rule))
	if err != nil {
		span.SetStatus(codes.Error, "decision not recorded")
	}
	span.End()
}

// startTool is the span of an allowed tool's execution.
func (r *Runner) startTool(ctx context.Context, tool, callID string) (context.Context, trace.Span) {
	if !r.traced() {
		return telemetry.Untraced(ctx)
	}
	return r.Tracer.Start(ctx, "execute_tool "+tool, trace.WithAttributes(
		attribute.String(attrOperation, "execute_tool"),
		attribute.String(attrToolName, tool), attribute.String(attrToolCall, callID)))
}

func endTool(span trace.Span, status string) {
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(attribute.String(attrStatus, status))
	if status != "ok" {
		span.SetStatus(codes.Error, status)
	}
	span.End()
}
