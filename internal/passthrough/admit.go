package passthrough

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehousehq/gatehouse/internal/agent"
	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/principal"
)

// admit checks a request as sent, before anything is recorded or asked:
// the tools it offers, its tool_choice, and its history against what was
// released and recorded. It returns the tools kept and the tool results
// not reported before.
func (s *Service) admit(ctx context.Context, req Request, res *Result) (map[string]*agent.Tool, []llm.ToolDef, []answer, error) {
	offered, defs, err := s.filter(req.Principal, req.Tools, res)
	if err != nil {
		return nil, nil, nil, err
	}
	if tc := req.Options.ToolChoice; tc != nil && tc.Function != "" && offered[tc.Function] == nil {
		return nil, nil, nil, &InvalidRequestError{
			Msg:    fmt.Sprintf("tool_choice names %q, which is not a tool offered to this caller", agent.CutName(tc.Function)),
			Reason: "tool_choice names a tool not offered to this caller", Name: tc.Function}
	}
	answered, err := s.checkHistory(ctx, req.Principal, req.Messages)
	if err != nil {
		return nil, nil, nil, err
	}
	return offered, defs, answered, nil
}

// refuse records a request refused before its run: its own events (the
// endpoint's authorization decision, held back to ride with run.started)
// and, when the caller's request is what is refused, an authz.decided deny
// saying why. It returns err, or the audit log's error when they cannot be
// recorded (the caller is then answered that, as for any request).
func (s *Service) refuse(ctx context.Context, req Request, base audit.Event, m Model, err error) error {
	evs := append([]audit.Event(nil), req.Before...)
	var r refusal
	if errors.As(err, &r) {
		ev := base
		ev.Type, ev.Resource, ev.Decision = audit.TypeAuthzDecided, "model:"+m.Name, audit.Deny
		r.record(&ev)
		evs = append(evs, ev)
	}
	if len(evs) == 0 {
		return err
	}
	if rerr := s.Audit.Record(context.WithoutCancel(ctx), evs...); rerr != nil {
		return rerr
	}
	return err
}

func isRefusal(err error) bool {
	var r refusal
	return errors.As(err, &r)
}

// report stores the results just recorded as answers to their calls. When
// a concurrent request recorded another result for one of them first, the
// request is refused: the model must not act on a result the log does not
// keep as the call's.
func (s *Service) report(ctx context.Context, p *principal.Principal, answered []answer) error {
	if len(answered) == 0 {
		return nil
	}
	reports := make([]Report, len(answered))
	for i, a := range answered {
		reports[i] = Report{ID: a.id, ResultSHA256: a.hash}
	}
	marked, err := s.Calls.MarkReported(ctx, p.Key(), reports)
	if err != nil {
		return fmt.Errorf("mark reported tool calls: %w", err)
	}
	if len(marked) == len(answered) {
		return nil
	}
	ids := make([]string, len(answered))
	for i, a := range answered {
		ids[i] = a.id
	}
	found, err := s.Calls.Lookup(ctx, p.Key(), ids)
	if err != nil {
		return fmt.Errorf("look up released tool calls: %w", err)
	}
	for _, a := range answered {
		if found[a.id].ResultSHA256 != a.hash {
			return &ToolResultChangedError{ID: a.id, Result: a.content}
		}
	}
	return nil
}
