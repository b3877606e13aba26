package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/authz"
	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/tools"
)

// toolError is what the model receives instead of a result.
type toolError struct {
	Error   string `json:"error"` // not_authorized | invalid_arguments | tool_error
	Tool    string `json:"tool"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// toolRound runs one round of tool calls concurrently, at most
// MaxParallelTools at once, and returns the tool messages in call order.
// A call waiting for its turn is not started once the run is over (its
// context ended) or a call of the round hit a limit that ends the run.
//
// A call whose tool needs approval is not run: it is returned in held, its
// message left empty (Role ""), for the run to pause on.
func (r *Runner) toolRound(ctx context.Context, req RunRequest, base audit.Event, log *runLog, offered []llm.ToolDef, calls []llm.ToolCall) ([]llm.Message, []ToolCallRecord, []Held, error) {
	slots := make(chan struct{}, len(calls))
	if n := req.Agent.Limits.MaxParallelTools; n > 0 && n < len(calls) {
		slots = make(chan struct{}, n)
	}
	shown := make(map[string]*Tool, len(offered))
	for _, d := range offered {
		shown[d.Name] = req.Agent.Tools[d.Name]
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

// oneCall gates and runs one tool call. A returned error ends the run (the
// audit log could not record); refusals and tool failures are answered to
// the model as tool errors.
//
// An allowed call whose tool needs approval for these arguments is held:
// its approval.requested event is durable, and it is returned, not run.
func (r *Runner) oneCall(ctx context.Context, req RunRequest, base audit.Event, log *runLog, offered map[string]*Tool, c llm.ToolCall) (string, ToolCallRecord, *Held, error) {
	_, exists := req.Agent.Tools[c.Name]
	actx, authSpan := r.startAuthorize(ctx, toolSpanName(exists, c.Name), c.ID)
	g := Gate(actx, r.Perms, req.Principal, base, req.Agent.Tools, offered, c)
	if g.Decision.Allow && g.Tool.Policy.Approval != nil {
		// Only a call that is allowed can be sent for approval.
		need, err := g.Tool.Policy.Approval.Needed(actx, req.Principal, g.Args)
		switch {
		case err != nil:
			g = g.Refused(authz.Decision{Rule: "approval of " + c.Name + ": " + g.Tool.Policy.Approval.WhenSource,
				Reason: "the tool's approval condition could not be evaluated for this call", Detail: err.Error()})
		case need:
			rec, held, err := r.hold(actx, base, log, g.Tool, c, g.Args, g.Decision)
			endAuthorize(authSpan, g.Event, err)
			return "", rec, held, err
		}
	}
	rec := g.Record()
	rec.Status = ""
	// Durable before the tool runs (fail closed).
	err := log.record(actx, g.Event)
	endAuthorize(authSpan, g.Event, err)
	if err != nil {
		rec.Status = "not_run"
		return "", rec, nil, fmt.Errorf("record tool decision: %w", err)
	}
	decidedRec := rec
	log.emit(Event{Type: EventToolDecided, Call: &decidedRec})
	if !g.Decision.Allow {
		rec.Status = g.Status
		return g.RefusalContent(), rec, nil, nil
	}
	content, rec, err := r.execute(ctx, req, base, log, g.Tool, c.Name, g.Args, rec)
	return content, rec, nil, err
}

// execute runs an allowed call whose decision is durable, and records its
// tool.finished with the run's next write.
func (r *Runner) execute(ctx context.Context, req RunRequest, base audit.Event, log *runLog, t *Tool, name string, args tools.Args, rec ToolCallRecord) (string, ToolCallRecord, error) {
	c := llm.ToolCall{ID: rec.ID, Name: name}
	start := r.Now()
	tctx, toolSpan := r.startTool(ctx, c.Name, c.ID)
	defer func() { endTool(toolSpan, rec.Status) }()
	if req.Agent.Limits.ToolTimeout > 0 {
		var cancel context.CancelFunc
		tctx, cancel = context.WithTimeout(tctx, req.Agent.Limits.ToolTimeout)
		defer cancel()
	}
	out, callErr := r.call(tctx, t.Impl, c.Name, args)
	var content string
	if callErr == nil {
		b, err := json.Marshal(out)
		if err != nil {
			callErr = fmt.Errorf("encode result: %w", err)
		} else {
			content = string(b)
		}
	}
	finished := base
	finished.Type = audit.TypeToolFinished
	finished.Resource = "tool:" + c.Name
	finished.LatencyMS = r.Now().Sub(start).Milliseconds()
	var limitErr error
	if callErr != nil {
		rec.Status = "error"
		msg := callErr.Error()
		if errors.Is(tctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			msg = "the tool timed out"
			limitErr = &LimitError{Limit: "tool_timeout", Value: int(req.Agent.Limits.ToolTimeout / time.Millisecond), Tool: c.Name}
		}
		content = encode(toolError{Error: "tool_error", Tool: c.Name, Message: msg})
		// A tool's error text may quote its arguments (claim X: not found),
		// so it is content, stored as audit.content says; Reason is not.
		finished.Outcome, finished.Reason = "error", "the tool returned an error"
		finished.Content = map[string]string{"error": msg}
		if limitErr != nil {
			finished.Reason = msg
		}
	} else {
		rec.Status = "ok"
		finished.Outcome = "ok"
	}
	if src, ok := t.Impl.(interface{ Server() (string, string) }); ok {
		// An MCP tool: which server and which of its tools ran.
		server, remote := src.Server()
		finished.Reason = joinReason(finished.Reason, fmt.Sprintf("MCP server %s, tool %s", server, remote))
	}
	log.later(finished)
	finishedRec := rec
	log.emit(Event{Type: EventToolFinished, Call: &finishedRec})
	return content, rec, limitErr
}

// unknownTool is the resource of a call to a tool that is not configured;
// the name the model gave is in the event's content.
const unknownTool = "tool:(unknown)"

// redacter is an error that can say what went wrong without quoting the
// call's own text (schema.ArgError).
type redacter interface{ Redacted() string }

// errToolPanicked is what the model and the caller see of a tool that
// panicked; the panic itself goes to the server log.
var errToolPanicked = errors.New("the tool failed unexpectedly")

// call runs a tool, turning a panic into an error: a tool — builtin, HTTP or
// registered by an embedding Go program — runs on its own goroutine, where a
// panic would otherwise end the whole process.
func (r *Runner) call(ctx context.Context, impl tools.Tool, name string, args tools.Args) (out any, err error) {
	defer func() {
		if p := recover(); p != nil {
			if r.Log != nil {
				// The panic value may hold anything the tool had; its type and the
				// stack locate the fault without repeating it.
				r.Log.Error("tool panicked", "tool", name, "panic_type", fmt.Sprintf("%T", p), "stack", string(debug.Stack()))
			}
			out, err = nil, errToolPanicked
		}
	}()
	return impl.Call(ctx, args)
}

// CutName is a name a model or client chose (a tool name, a call id), cut
// to a length no configured name has: a prompt injection must not write
// paragraphs into the audit log or an error.
func CutName(name string) string {
	const max = 64
	if len(name) <= max {
		return name
	}
	return strings.ToValidUTF8(name[:max], "") + "..."
}

func joinReason(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

func encode(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
