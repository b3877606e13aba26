package telemetry

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehousehq/gatehouse/internal/llm"
)

// GenAI semantic convention attribute names (OpenTelemetry semconv
// gen_ai.*), written out: the conventions are still in development and
// their Go constants move between semconv versions.
const (
	GenAIOperationName      = "gen_ai.operation.name"
	GenAISystem             = "gen_ai.system" // older name of gen_ai.provider.name, still read by many backends
	GenAIProviderName       = "gen_ai.provider.name"
	GenAIRequestModel       = "gen_ai.request.model"
	GenAIResponseModel      = "gen_ai.response.model"
	GenAIResponseFinish     = "gen_ai.response.finish_reasons"
	GenAIUsageInputTokens   = "gen_ai.usage.input_tokens"
	GenAIUsageOutputTokens  = "gen_ai.usage.output_tokens"
	GenAIAgentName          = "gen_ai.agent.name"
	GenAIToolName           = "gen_ai.tool.name"
	GenAIToolCallID         = "gen_ai.tool.call.id"
	GenAIConversationID     = "gen_ai.conversation.id"
	GatehouseDecision       = "gatehouse.decision"
	GatehouseRule           = "gatehouse.rule"
	GatehouseToolStatus     = "gatehouse.tool.status"
	GatehouseRunOutcome     = "gatehouse.run.outcome"
	GatehouseRequestID      = "gatehouse.request_id"
	GatehouseRunID          = "gatehouse.run_id"
	GatehouseAuthMethod     = "gatehouse.auth.method"
	GatehouseToolCallsCount = "gatehouse.tool_calls"
)

// Model wraps an llm.Model so each turn is a "chat {model}" client span
// with the GenAI attributes: operation, provider, requested and answering
// model, finish reason and token usage. Prompts and answers are never
// attributes. Streaming is kept: a Model wrapping a Streamer streams.
type Model struct {
	Next llm.Model
	// Provider is gen_ai.provider.name (openai, or gatehouse.offline).
	Provider string
	// DefaultModel is the model a request without one is sent to.
	DefaultModel string
	Tracer       trace.Tracer
}

var _ llm.Streamer = Model{}

// Name implements llm.Model.
func (m Model) Name() string { return m.Next.Name() }

// Unwrap returns the wrapped model.
func (m Model) Unwrap() llm.Model { return m.Next }

// Complete implements llm.Model.
func (m Model) Complete(ctx context.Context, req llm.Request) (*llm.Response, error) {
	ctx, span := m.start(ctx, req)
	defer span.End()
	resp, err := m.Next.Complete(ctx, req)
	m.finish(span, resp, err)
	return resp, err
}

// Stream implements llm.Streamer; a wrapped model that does not stream
// answers whole, as llm.Stream does.
func (m Model) Stream(ctx context.Context, req llm.Request, onDelta func(llm.Delta) error) (*llm.Response, error) {
	ctx, span := m.start(ctx, req)
	defer span.End()
	resp, err := llm.Stream(ctx, m.Next, req, onDelta)
	m.finish(span, resp, err)
	return resp, err
}

func (m Model) start(ctx context.Context, req llm.Request) (context.Context, trace.Span) {
	if Off(m.Tracer) {
		return Untraced(ctx)
	}
	model := req.Model
	if model == "" {
		model = m.DefaultModel
	}
	return m.Tracer.Start(ctx, "chat "+model, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.String(GenAIOperationName, "chat"),
		attribute.String(GenAIProviderName, m.Provider),
		attribute.String(GenAISystem, m.Provider),
		attribute.String(GenAIRequestModel, model),
	))
}

func (m Model) finish(span trace.Span, resp *llm.Response, err error) {
	if !span.IsRecording() {
		return
	}
	if err != nil {
		// The error's text may quote the provider; its kind is enough.
		span.SetStatus(codes.Error, "model call failed")
		span.SetAttributes(attribute.String("error.type", errorType(err)))
		return
	}
	span.SetAttributes(
		attribute.String(GenAIResponseModel, resp.Model),
		attribute.Int64(GenAIUsageInputTokens, resp.Usage.PromptTokens),
		attribute.Int64(GenAIUsageOutputTokens, resp.Usage.CompletionTokens),
	)
	if resp.FinishReason != "" {
		span.SetAttributes(attribute.StringSlice(GenAIResponseFinish, []string{resp.FinishReason}))
	}
}

func errorType(err error) string {
	switch {
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	default:
		return "provider_error"
	}
}
