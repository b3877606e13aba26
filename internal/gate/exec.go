package gate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/gatehousehq/gatehouse/internal/approval"
	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/dlp"
	"github.com/gatehousehq/gatehouse/internal/principal"
	"github.com/gatehousehq/gatehouse/internal/tools"
)

// Executor runs allowed calls: the one place a tool is called. Its zero
// value runs without a log and with time.Now.
type Executor struct {
	Log *slog.Logger
	Now func() time.Time
	// Data, when set, is data protection at the tool boundary: the tool
	// receives the values behind the tokens in its arguments (the gate
	// decided on the tokens), and its result reaches the model protected.
	Data *dlp.Protector
}

// Run is one allowed call to execute.
type Run struct {
	// Decision must be an Allow verdict whose event is durable.
	Decision  Decision
	Principal *principal.Principal
	// Base is the event tool.finished is made from.
	Base audit.Event
	// Timeout bounds the call (0: only ctx).
	Timeout time.Duration
	// Agent names the agent whose run made the call; empty for a call the
	// caller made itself (/mcp tools/call).
	Agent string
}

// Outcome is what a call did.
type Outcome struct {
	// Content is the result as JSON, or the tool error the model is told.
	Content string
	Status  string // ok | error
	// Err is the tool's error (nil when ok); TimedOut says it ran past
	// Timeout while ctx was still live.
	Err      error
	TimedOut bool
	// Finished is the call's tool.finished event, for the door to record.
	Finished audit.Event
	// Found are the data.found events of the result, recorded with it.
	Found []audit.Event
}

// Events are o's events for the door to record: tool.finished and the
// findings of the result.
func (o Outcome) Events() []audit.Event { return append([]audit.Event{o.Finished}, o.Found...) }

// ErrNotAllowed: Execute was handed a decision that is not Allow.
var ErrNotAllowed = errors.New("the gate did not allow this call")

// Execute runs r's tool with the decided arguments and the caller's
// identity in its context, bounded by r.Timeout, turning a panic into an
// error, and returns its tool.finished event unrecorded.
func (x *Executor) Execute(ctx context.Context, r Run) Outcome {
	d := r.Decision
	if d.Verdict != Allow || d.Tool == nil {
		return Outcome{Status: "error", Err: ErrNotAllowed, Content: toolErrorContent(d.Call.Name, ErrNotAllowed.Error())}
	}
	start := x.now()
	fin := r.Base
	fin.Type, fin.Resource, fin.Outcome = audit.TypeToolFinished, "tool:"+d.Call.Name, "ok"
	args, err := x.detokenize(ctx, r)
	if err != nil {
		// Not run: a token the model made up, or another caller's.
		fin.Outcome, fin.Reason = "refused", errTokenRefused.Error()
		return Outcome{Status: "error", Err: err, Content: ToolError{Error: "not_run", Tool: d.Call.Name, Reason: errTokenRefused.Error()}.Encode(), Finished: fin}
	}
	// The tool, and a call token's args_sha256, get the arguments it runs with.
	d.Args, r.Decision.Args = args, args
	call, err := callOf(r)
	if err != nil {
		return Outcome{Status: "error", Err: err, Content: toolErrorContent(d.Call.Name, "the arguments cannot be encoded")}
	}
	tctx := ctx
	if principal.From(ctx) != r.Principal {
		tctx = principal.With(ctx, r.Principal)
	}
	tctx = tools.WithCall(tctx, call)
	if r.Timeout > 0 {
		var cancel context.CancelFunc
		tctx, cancel = context.WithTimeout(tctx, r.Timeout)
		defer cancel()
	}
	o := x.run(tctx, ctx, r, d)
	fin.LatencyMS = x.now().Sub(start).Milliseconds()
	if o.Err != nil {
		msg := o.Err.Error()
		if o.TimedOut {
			msg = "the tool timed out"
		}
		// A tool's error text may quote its arguments (claim X: not found),
		// so it is content, stored as audit.content says; Reason is not.
		fin.Outcome, fin.Reason = "error", "the tool returned an error"
		fin.Content = map[string]string{"error": msg}
		if o.TimedOut {
			fin.Reason = msg
		}
	}
	var found []dlp.Found
	if o.Content, found, err = x.protect(ctx, r, o.Content); err != nil {
		// The model is told why, never the value.
		o.Status, o.Content = "error", ToolError{Error: "blocked", Tool: d.Call.Name, Reason: err.Error()}.Encode()
		fin.Outcome, fin.Reason = "blocked", err.Error()
	}
	o.Found = FoundEvents(r.Base, found)
	if src, ok := d.Tool.Impl.(interface{ Server() (string, string) }); ok {
		// An MCP tool: which server and which of its tools ran.
		server, remote := src.Server()
		fin.Reason = joinReason(fin.Reason, fmt.Sprintf("MCP server %s, tool %s", server, remote))
	}
	o.Finished = fin
	return o
}

// run calls the tool with the arguments d holds, ctx bounding the call
// and outer telling a timeout from the caller's own end.
func (x *Executor) run(ctx, outer context.Context, r Run, d Decision) Outcome {
	out, err := x.call(ctx, d)
	if err == nil {
		b, merr := json.Marshal(out)
		if merr == nil {
			return Outcome{Content: string(b), Status: "ok"}
		}
		err = fmt.Errorf("encode result: %w", merr)
	}
	o := Outcome{Status: "error", Err: err}
	msg := err.Error()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && outer.Err() == nil && r.Timeout > 0 {
		msg, o.TimedOut = "the tool timed out", true
	}
	o.Content = toolErrorContent(d.Call.Name, msg)
	return o
}

// callOf is what the tool may know of r's call.
func callOf(r Run) (tools.Call, error) {
	canon, err := CanonicalArgs(r.Decision.Args)
	if err != nil {
		return tools.Call{}, fmt.Errorf("encode arguments: %w", err)
	}
	actor := "agent:" + r.Agent
	if r.Agent == "" {
		actor = "client:" + r.Principal.Subject
	}
	return tools.Call{ID: r.Base.RunID + "/" + r.Decision.Call.ID, RunID: r.Base.RunID, Tool: r.Decision.Call.Name,
		Actor: actor, ArgsSHA256: approval.ArgsHash(canon)}, nil
}

// errToolPanicked is what the model and the caller see of a tool that
// panicked; the panic itself goes to the server log.
var errToolPanicked = errors.New("the tool failed unexpectedly")

// call runs a tool, turning a panic into an error: a tool — builtin, HTTP,
// MCP or registered by an embedding Go program — may run on its own
// goroutine, where a panic would otherwise end the whole process.
func (x *Executor) call(ctx context.Context, d Decision) (out any, err error) {
	defer func() {
		if p := recover(); p != nil {
			if x.Log != nil {
				// The panic value may hold anything the tool had; its type and the
				// stack locate the fault without repeating it.
				x.Log.Error("tool panicked", "tool", d.Call.Name, "panic_type", fmt.Sprintf("%T", p), "stack", string(debug.Stack()))
			}
			out, err = nil, errToolPanicked
		}
	}()
	return d.Tool.Impl.Call(ctx, d.Args)
}

func (x *Executor) now() time.Time {
	if x.Now != nil {
		return x.Now()
	}
	return time.Now()
}

// ToolError is what a model receives instead of a result.
type ToolError struct {
	Error   string `json:"error"` // not_authorized | invalid_arguments | not_approved | tool_error | not_run
	Tool    string `json:"tool"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// Encode is e as the JSON a model reads.
func (e ToolError) Encode() string {
	b, _ := json.Marshal(e)
	return string(b)
}

func toolErrorContent(tool, msg string) string {
	return ToolError{Error: "tool_error", Tool: tool, Message: msg}.Encode()
}

// RefusalContent is the tool message a model receives for a refused call.
func (d Decision) RefusalContent() string {
	kind := "not_authorized"
	if d.Status == "invalid_arguments" {
		kind = "invalid_arguments"
	}
	return ToolError{Error: kind, Tool: d.Call.Name, Reason: d.Reason}.Encode()
}

func joinReason(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
