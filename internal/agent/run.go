package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/authz"
	"github.com/gatehousehq/gatehouse/internal/dlp"
	"github.com/gatehousehq/gatehouse/internal/gate"
	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/principal"
	"github.com/gatehousehq/gatehouse/internal/runs"
	"github.com/gatehousehq/gatehouse/internal/tools"
)

// Runner runs agents. It is safe for concurrent use.
type Runner struct {
	Model llm.Model
	// DefaultModel is the model id runs use unless their agent names one
	// (model.model, or the offline model's name); it is what events record.
	DefaultModel string
	Perms        *authz.Permissions
	Audit        audit.Sink
	Log          *slog.Logger
	Now          func() time.Time
	// Tracer makes the run's spans; nil: none.
	Tracer trace.Tracer
	// Gate decides each tool call (nil: a gate over Perms and Now).
	Gate *gate.Gate
	// Data, when set, protects what the caller sends, what tools return and
	// what the model answers (package dlp); Exec carries it to the tools.
	Data *dlp.Protector
	// Exec runs allowed calls (nil: an executor over Log, Now and Data).
	Exec *gate.Executor
}

// RunRequest is one run's input.
type RunRequest struct {
	Agent     *Agent
	Principal *principal.Principal
	Message   string
	History   []llm.Message // earlier turns of the session
	RequestID string
	RunID     string
	SessionID string
	// Before are events to make durable together with run.started (the
	// request's authorization decision).
	Before []audit.Event
	// Events, when set, receives the run's steps as they happen, one at a
	// time, on the run's goroutines; the model's turns are then streamed so
	// its content arrives as message.delta events. It should return
	// quickly: the run waits for it. nil runs exactly as without it.
	Events func(Event)
	// Door is the way the run's tool calls came in, for the gate
	// (gate.DoorAgent when zero).
	Door gate.Door
	// Stateless says History is the client's, not a stored session's: data
	// protection protects it before the model sees it.
	Stateless bool
	// found are the findings in what the caller sent, recorded after
	// run.started.
	found []audit.Event
}

// runLog records a run's events. tool.finished events wait and join the
// run's next durable write (the next tool decision or run.finished), so a
// run makes one write per step that must precede an action: before the
// model is called, before each round of tools runs, before the answer.
type runLog struct {
	sink    audit.Sink
	mu      sync.Mutex
	pending []audit.Event
	// events tells the run's observers what has been recorded and done.
	events *emitter
}

func (l *runLog) emit(ev Event) { l.events.emit(ev) }

func (l *runLog) later(evs ...audit.Event) {
	l.mu.Lock()
	l.pending = append(l.pending, evs...)
	l.mu.Unlock()
}

func (l *runLog) record(ctx context.Context, evs ...audit.Event) error {
	l.mu.Lock()
	if len(l.pending) > 0 {
		evs = append(l.pending, evs...)
		l.pending = nil
	}
	l.mu.Unlock()
	return l.sink.Record(ctx, evs...)
}

// Run performs the run. Its audit events are durable before anything they
// describe happens; if they cannot be recorded the run stops with an error
// wrapping audit.ErrUnavailable. A run that reaches calls needing approval
// returns a Result with Paused set (recorded as run.paused): Resume
// continues it.
func (r *Runner) Run(ctx context.Context, req RunRequest) (*Result, error) {
	if err := r.protectRequest(ctx, &req); err != nil {
		return nil, err
	}
	return r.run(ctx, req, audit.TypeRunStarted, func(ctx context.Context, base audit.Event, log *runLog) (*Result, error) {
		return r.loop(ctx, req, base, log)
	})
}

// run is a run's frame: its first event (run.started, or run.resumed),
// body, and its last (run.finished, or run.paused).
func (r *Runner) run(ctx context.Context, req RunRequest, first string, body func(context.Context, audit.Event, *runLog) (*Result, error)) (*Result, error) {
	start := r.Now()
	a := req.Agent
	ctx, span := r.startRun(ctx, req)
	outcome := OutcomeError
	defer func() { endRun(span, outcome) }()
	if t := a.Limits.RunTimeout; t > 0 && !deadlineWithin(ctx, t) {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, t, ErrRunTimeout)
		defer cancel()
	}
	if principal.From(ctx) != req.Principal {
		ctx = principal.With(ctx, req.Principal)
	}
	ctx, ids := audit.WithIDs(ctx)
	base := r.baseEvent(req)
	log := &runLog{sink: r.Audit, pending: req.Before, events: &emitter{sink: req.Events, run: req.RunID}}

	frame := runs.Frame{Resource: "agent:" + a.Name, Model: r.modelName(a)}
	var content map[string]string
	if first == audit.TypeRunStarted {
		content = map[string]string{"message": req.Message}
	}
	started := runs.Started(base, frame, first, "", content)
	if err := log.record(ctx, append([]audit.Event{started}, req.found...)...); err != nil {
		return nil, fmt.Errorf("record run start: %w", err)
	}
	msg := "run started"
	if first == audit.TypeRunResumed {
		msg = "run resumed"
	}
	if r.Log.Enabled(ctx, slog.LevelInfo) {
		r.Log.InfoContext(ctx, msg, "request_id", req.RequestID, "run_id", req.RunID,
			"subject", req.Principal.Subject, "auth_method", string(req.Principal.Method), "agent", a.Name)
	}
	log.emit(Event{Type: EventRunStarted})

	res, runErr := body(ctx, base, log)
	switch {
	case runErr == nil:
	case errors.Is(ctx.Err(), context.Canceled):
		// The caller went away. A record it cut short is no outage of the
		// log: the run's end is still recorded, below, as cancelled.
		runErr = ErrRunCancelled
	case ctx.Err() != nil && !errors.Is(runErr, audit.ErrUnavailable):
		// Whichever deadline ended the run (the agent's or the request's),
		// the caller hears that it timed out.
		runErr = ErrRunTimeout
	}
	if errors.Is(runErr, audit.ErrUnavailable) {
		return nil, runErr
	}
	end := runs.End{Usage: &audit.Usage{PromptTokens: res.Usage.PromptTokens, CompletionTokens: res.Usage.CompletionTokens, TotalTokens: res.Usage.TotalTokens}}
	switch {
	case errors.Is(runErr, ErrRunCancelled):
		end.Outcome, end.Reason = OutcomeCancelled, runErr.Error()
	case runErr != nil:
		end.Outcome, end.Reason = OutcomeError, runErr.Error()
	case res.Paused != nil:
		end.Type, end.Outcome, end.Model = audit.TypeRunPaused, "awaiting_approval", res.Model
	default:
		end.Outcome, end.Model = OutcomeOK, res.Model
		end.Content = map[string]string{"response": r.recorded(res)}
	}
	finished := runs.Finished(base, frame, start, r.Now(), end)
	// The run's end is recorded even when the caller's deadline passed or
	// the caller went away.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := log.record(rctx, finished); err != nil {
		return nil, fmt.Errorf("record run end: %w", err)
	}
	outcome = finished.Outcome
	res.AuditEvents = ids.List()
	if res.Paused == nil || runErr != nil {
		log.emit(Event{Type: EventRunFinished, Outcome: finished.Outcome, Reason: finished.Reason})
	}
	if runErr != nil {
		return res, runErr
	}
	return res, nil
}

// deadlineWithin reports whether ctx ends within d anyway (the request's
// timeout, usually the run's too): a timer of the run's own would never
// be the first to fire, and the run tells a timeout the same way whichever
// deadline ended it.
func deadlineWithin(ctx context.Context, d time.Duration) bool {
	dl, ok := ctx.Deadline()
	return ok && time.Until(dl) <= d
}

// recorded is the answer as the log keeps it: as the model's turn was
// protected, before any value was revealed to the caller's roles.
func (r *Runner) recorded(res *Result) string {
	if n := len(res.Messages); r.Data != nil && n > 0 {
		return res.Messages[n-1].Content
	}
	return res.Response
}

func (r *Runner) modelName(a *Agent) string {
	if a.Model != "" {
		return a.Model
	}
	return r.DefaultModel
}

func (r *Runner) baseEvent(req RunRequest) audit.Event {
	p := req.Principal
	return audit.Event{
		RequestID: req.RequestID, RunID: req.RunID, SessionID: req.SessionID,
	}.By(p)
}

// loop alternates model turns and tool rounds. It always returns a non-nil
// Result so usage is reported even for failed runs.
func (r *Runner) loop(ctx context.Context, req RunRequest, base audit.Event, log *runLog) (*Result, error) {
	user := llm.Message{Role: "user", Content: req.Message}
	res := &Result{Messages: []llm.Message{user}}
	return r.turns(ctx, req, log, base, res, r.prompt(req.Agent, req.History, res.Messages), 0, 0)
}

// prompt is what the model is sent: the agent's system message, the
// session's history, the run's messages so far.
func (r *Runner) prompt(a *Agent, history, run []llm.Message) []llm.Message {
	msgs := make([]llm.Message, 0, len(history)+len(run)+4)
	if a.SystemMessage != "" {
		msgs = append(msgs, llm.Message{Role: "system", Content: a.SystemMessage})
	}
	msgs = append(msgs, history...)
	return append(msgs, run...)
}

// turns runs model turns and tool rounds from round on, calls counted so
// far, until a final answer, a limit, or calls held for approval.
func (r *Runner) turns(ctx context.Context, req RunRequest, log *runLog, base audit.Event, res *Result, msgs []llm.Message, round, calls int) (*Result, error) {
	a := req.Agent
	offered := r.offered(req.Principal, a)
	for ; ; round++ {
		resp, err := r.turn(ctx, req, base, llm.Request{Model: a.Model, Messages: msgs, Tools: offered}, round, log)
		if err != nil {
			return res, err
		}
		if err := r.protectAnswer(ctx, req, base, log, &resp.Message); err != nil {
			return res, err
		}
		res.Usage.PromptTokens += resp.Usage.PromptTokens
		res.Usage.CompletionTokens += resp.Usage.CompletionTokens
		res.Usage.TotalTokens += resp.Usage.TotalTokens
		res.Model = resp.Model
		msgs = append(msgs, resp.Message)
		res.Messages = append(res.Messages, resp.Message)
		if len(resp.Message.ToolCalls) == 0 {
			res.Response = r.reveal(ctx, req, base, resp.Message.Content)
			return res, nil
		}
		if round >= a.Limits.MaxToolRounds {
			return res, &LimitError{Limit: "max_tool_rounds", Value: a.Limits.MaxToolRounds}
		}
		calls += len(resp.Message.ToolCalls)
		if calls > a.Limits.MaxToolCalls {
			return res, &LimitError{Limit: "max_tool_calls", Value: a.Limits.MaxToolCalls}
		}
		results, records, held, err := r.toolRound(ctx, req, base, log, resp.Message.ToolCalls)
		res.ToolCalls = append(res.ToolCalls, records...)
		if err != nil {
			return res, err
		}
		if err := ctx.Err(); err != nil {
			return res, err // over while its tools ran: no further model turn
		}
		if len(held) > 0 {
			res.Paused = r.pause(req, res, results, held, round, calls)
			return res, nil
		}
		msgs = append(msgs, results...)
		res.Messages = append(res.Messages, results...)
	}
}

// pause is the state a run stopped at held calls resumes from.
func (r *Runner) pause(req RunRequest, res *Result, results []llm.Message, held []Held, round, calls int) *Paused {
	p := &Paused{History: req.History, New: res.Messages, Results: map[string]llm.Message{}, Held: held,
		Usage: res.Usage, Model: res.Model, Round: round, Calls: calls}
	for _, m := range results {
		if m.Role != "" {
			p.Results[m.ToolCallID] = m
		}
	}
	for _, rec := range res.ToolCalls {
		if rec.Status != StatusAwaitingApproval {
			p.Records = append(p.Records, rec)
		}
	}
	return p
}

// turn is one model turn: streamed when someone listens, so the content
// reaches them as it arrives.
func (r *Runner) turn(ctx context.Context, req RunRequest, base audit.Event, mr llm.Request, round int, log *runLog) (*llm.Response, error) {
	if req.Events == nil {
		return r.Model.Complete(ctx, mr)
	}
	write, done := r.stream(req, base, log, round)
	resp, err := llm.Stream(ctx, r.Model, mr, func(d llm.Delta) error {
		if d.Content != "" {
			return write(ctx, d.Content)
		}
		return nil
	})
	if err != nil {
		return resp, err
	}
	return resp, done(ctx)
}

// offered lists the tools shown to the model: those whose permission the
// caller holds, in config order.
func (r *Runner) offered(p *principal.Principal, a *Agent) []llm.ToolDef {
	defs := make([]llm.ToolDef, 0, len(a.Order))
	for _, name := range a.Order {
		t := a.Tools[name]
		if !r.Perms.Visible(p, t.Policy) || tools.DisabledReason(t.Impl) != "" {
			continue
		}
		s := t.Impl.Spec()
		defs = append(defs, llm.ToolDef{Name: s.Name, Description: s.Description, Parameters: s.Parameters})
	}
	if len(defs) == 0 {
		return nil // none shown: the model is sent no tools at all
	}
	return defs
}
