package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/gate"
	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/principal"
)

// toolError is what the model receives instead of a result.
type toolError = gate.ToolError

// toolRound runs one round of tool calls concurrently, at most
// MaxParallelTools at once, and returns the tool messages in call order.
// A call waiting for its turn is not started once the run is over (its
// context ended) or a call of the round hit a limit that ends the run.
//
// A call whose tool needs approval is not run: it is returned in held, its
// message left empty (Role ""), for the run to pause on.
func (r *Runner) toolRound(ctx context.Context, req RunRequest, base audit.Event, log *runLog, calls []llm.ToolCall) ([]llm.Message, []ToolCallRecord, []Held, error) {
	shown := r.callable(req.Principal, req.Agent)
	if len(calls) == 1 && ctx.Err() == nil {
		return r.soleCall(ctx, req, base, log, shown, calls[0])
	}
	slots := make(chan struct{}, len(calls))
	if n := req.Agent.Limits.MaxParallelTools; n > 0 && n < len(calls) {
		slots = make(chan struct{}, n)
	}
	msgs := make([]llm.Message, len(calls))
	records := make([]ToolCallRecord, len(calls))
	errs := make([]error, len(calls))
	holds := make([]*Held, len(calls))
	var limited atomic.Bool
	var wg sync.WaitGroup
	for i, c := range calls {
		acquired := false
		select {
		case slots <- struct{}{}:
			acquired = true
		case <-ctx.Done():
		}
		if ctx.Err() != nil || limited.Load() {
			if acquired {
				<-slots
			}
			// Not started: no decision was made, nothing ran.
			msgs[i] = llm.Message{Role: "tool", ToolCallID: c.ID, Content: encode(toolError{Error: "not_run", Tool: c.Name, Reason: "the run ended first"})}
			records[i] = ToolCallRecord{ID: c.ID, Name: c.Name, Arguments: c.Arguments, Reason: "the run ended first", Status: "not_run"}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			content, rec, held, err := r.oneCall(ctx, req, base, log, shown, c)
			if held == nil {
				msgs[i] = llm.Message{Role: "tool", ToolCallID: c.ID, Content: content}
			}
			records[i], holds[i] = rec, held
			errs[i] = err
			if err != nil {
				limited.Store(true)
			}
		}()
	}
	wg.Wait()
	var held []Held
	for _, h := range holds {
		if h != nil {
			held = append(held, *h)
		}
	}
	return msgs, records, held, errors.Join(errs...)
}

// soleCall is a round of one call, as toolRound runs it, on the run's own
// goroutine: there is nothing to run beside it.
func (r *Runner) soleCall(ctx context.Context, req RunRequest, base audit.Event, log *runLog, shown map[string]*Tool, c llm.ToolCall) ([]llm.Message, []ToolCallRecord, []Held, error) {
	content, rec, held, err := r.oneCall(ctx, req, base, log, shown, c)
	msgs := make([]llm.Message, 1)
	var holds []Held
	if held == nil {
		msgs[0] = llm.Message{Role: "tool", ToolCallID: c.ID, Content: content}
	} else {
		holds = []Held{*held}
	}
	return msgs, []ToolCallRecord{rec}, holds, errors.Join(err)
}

// oneCall gates and runs one tool call. A returned error ends the run (the
// audit log could not record); refusals and tool failures are answered to
// the model as tool errors. A held call's approval.requested event is
// durable when it is returned, not run.
func (r *Runner) oneCall(ctx context.Context, req RunRequest, base audit.Event, log *runLog, offered map[string]*Tool, c llm.ToolCall) (string, ToolCallRecord, *Held, error) {
	_, exists := req.Agent.Tools[c.Name]
	actx, authSpan := r.startAuthorize(ctx, toolSpanName(exists, c.Name), c.ID)
	d := r.gate().Decide(actx, gate.Input{Door: req.door(), Principal: req.Principal, Base: base,
		Declared: req.Agent.Tools, Offered: offered, Call: c})
	rec := RecordOf(d)
	// Durable before the tool runs, or the caller hears of the hold (fail closed).
	err := log.record(actx, d.Event)
	endAuthorize(authSpan, d.Event, err)
	if err != nil {
		rec.Status = "not_run"
		return "", rec, nil, fmt.Errorf("record tool decision: %w", err)
	}
	decided := rec
	if d.Verdict != gate.Hold {
		decided.Status = "" // what the call came to is told by its tool.finished
	}
	log.emit(Event{Type: EventToolDecided, Call: &decided})
	switch d.Verdict {
	case gate.Hold:
		return "", rec, d.Held, nil
	case gate.Deny:
		return d.RefusalContent(), rec, nil, nil
	}
	content, rec, err := r.execute(ctx, req, base, log, d, rec)
	return content, rec, nil, err
}

// execute runs an allowed call whose decision is durable, and records its
// tool.finished with the run's next write.
func (r *Runner) execute(ctx context.Context, req RunRequest, base audit.Event, log *runLog, d gate.Decision, rec ToolCallRecord) (string, ToolCallRecord, error) {
	tctx, toolSpan := r.startTool(ctx, d.Call.Name, d.Call.ID)
	out := r.executor().Execute(tctx, gate.Run{Decision: d, Principal: req.Principal, Base: base, Timeout: req.Agent.Limits.ToolTimeout, Agent: req.Agent.Name})
	rec.Status = out.Status
	endTool(toolSpan, rec.Status)
	log.later(out.Events()...)
	finishedRec := rec
	log.emit(Event{Type: EventToolFinished, Call: &finishedRec})
	if out.TimedOut {
		return out.Content, rec, &LimitError{Limit: "tool_timeout", Value: int(req.Agent.Limits.ToolTimeout / time.Millisecond), Tool: d.Call.Name}
	}
	return out.Content, rec, nil
}

// RecordOf is a gate decision as reported to the caller; an allowed
// call's Status is filled once it ran.
func RecordOf(d gate.Decision) ToolCallRecord {
	rec := ToolCallRecord{ID: d.Call.ID, Name: d.Call.Name, Arguments: d.Call.Arguments,
		Rule: d.Rule.Rule, Reason: d.Reason, Status: d.Status, Decision: d.Verdict.String()}
	if d.Verdict == gate.Hold {
		// The rule names the approval the call waits for, as its event does.
		rec.Decision, rec.Rule = "pending", d.Event.Rule
	}
	return rec
}

// callable are the agent's tools the gate judges p's calls against: those
// whose permission p holds, disabled ones included, so a call to a
// disabled tool is refused as disabled, with its reason, as at every other
// door — whether it was disabled before the model was shown the tools
// (and so not shown) or after.
func (r *Runner) callable(p *principal.Principal, a *Agent) map[string]*Tool {
	return gate.Callable(r.Perms, p, a.Tools)
}

func (r *Runner) gate() *gate.Gate {
	if r.Gate != nil {
		return r.Gate
	}
	return &gate.Gate{Perms: r.Perms, Now: r.Now, Data: r.Data}
}

func (r *Runner) executor() *gate.Executor {
	if r.Exec != nil {
		return r.Exec
	}
	return &gate.Executor{Log: r.Log, Now: r.Now, Data: r.Data}
}

// CutName is gate.CutName: a name a model or client chose, cut short.
func CutName(name string) string { return gate.CutName(name) }

func encode(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// door is the run's door for the gate.
func (req RunRequest) door() gate.Door {
	if req.Door == (gate.Door{}) {
		return gate.DoorAgent
	}
	return req.Door
}
