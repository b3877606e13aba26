// Package server is gatehouse as an MCP server (/mcp, streamable HTTP): each
// authenticated caller is offered exactly the tools it may use, and an
// ask_<agent> tool for each agent it may run; every tools/call passes the
// same gate (agent.Gate) and is recorded like an agent's tool call. A
// refusal is a tool result with isError, naming the reason. Sessions are
// bound to the caller that opened them.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gatehousehq/gatehouse/internal/agent"
	"github.com/gatehousehq/gatehouse/internal/approval"
	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/authz"
	"github.com/gatehousehq/gatehouse/internal/gate"
	"github.com/gatehousehq/gatehouse/internal/ids"
	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/principal"
	"github.com/gatehousehq/gatehouse/internal/runs"
	"github.com/gatehousehq/gatehouse/internal/tools"
)

// Caller is one authenticated request to /mcp, with what the config it
// started with offers.
type Caller struct {
	Principal *principal.Principal
	RequestID string
	Perms     *authz.Permissions
	// Tools are the tools gatehouse runs (client tools excluded), in Order.
	Tools map[string]*agent.Tool
	Order []string
	// Agents the caller may be offered as ask_<agent> when it holds
	// AskPermission; Ask runs one turn of one.
	Agents        []string
	AskPermission string
	Ask           func(ctx context.Context, agent, message string) (Answer, error)
	// ToolTimeout bounds one tool call (0: none beyond the request's).
	ToolTimeout time.Duration
	// Gate decides each call; Exec runs the allowed ones.
	Gate *gate.Gate
	Exec *gate.Executor
	// Approvals keeps calls held for approval; nil: such a call fails.
	Approvals approval.Store
	// Door admits each tools/call as a run and names it.
	Door *runs.Door
}

// Answer is an agent's answer to ask_<agent>: its response, or the
// approvals its run waits for.
type Answer struct {
	Response  string
	RunID     string
	Approvals []approval.Approval
}

// Config is what the handler needs.
type Config struct {
	// Caller describes the request; the caller is already authenticated
	// (principal.From(r.Context())) by gatehouse's own guard.
	Caller func(r *http.Request) *Caller
	Audit  audit.Sink
	Log    *slog.Logger
	Now    func() time.Time
}

// AskPrefix names the tool that asks an agent.
const AskPrefix = "ask_"

// callerKey is where the request's Caller travels in the SDK's TokenInfo.
const callerKey = "gatehouse.caller"

// New returns the /mcp handler. It must be served behind gatehouse's
// authentication (which answers 401 with the RFC 9728 challenge).
func New(cfg Config) http.Handler {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &service{cfg: cfg}
	h := mcp.NewStreamableHTTPHandler(s.serverFor, &mcp.StreamableHTTPOptions{Logger: cfg.Log, SessionTimeout: 30 * time.Minute})
	// The SDK binds a session to TokenInfo.UserID: a session id sent with
	// another caller's credential is refused. The credential was verified
	// already; this only hands the SDK who the caller is.
	verify := func(_ context.Context, _ string, r *http.Request) (*auth.TokenInfo, error) {
		c := cfg.Caller(r)
		if c == nil || c.Principal == nil {
			return nil, auth.ErrInvalidToken
		}
		return &auth.TokenInfo{UserID: c.Principal.Key(), Expiration: cfg.Now().Add(time.Hour),
			Extra: map[string]any{callerKey: c}}, nil
	}
	return auth.RequireBearerToken(verify, nil)(h)
}

type service struct{ cfg Config }

// callerOf is the Caller of the HTTP request that carried req.
func callerOf(extra *mcp.RequestExtra) *Caller {
	if extra == nil || extra.TokenInfo == nil {
		return nil
	}
	c, _ := extra.TokenInfo.Extra[callerKey].(*Caller)
	return c
}

// serverFor builds the MCP server of a new session: the tools its caller
// may use now. Each call is judged again with the config of its own request.
func (s *service) serverFor(r *http.Request) *mcp.Server {
	ti := auth.TokenInfoFromContext(r.Context())
	var c *Caller
	if ti != nil {
		c, _ = ti.Extra[callerKey].(*Caller)
	}
	srv := mcp.NewServer(&mcp.Implementation{Name: "gatehouse", Version: "1"}, nil)
	if c == nil {
		return srv
	}
	listed := map[string]bool{}
	// A call to a tool this session was not offered is still judged and
	// recorded, and refused as a tool result (isError), not a protocol error.
	srv.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if ct, ok := req.(*mcp.CallToolRequest); ok && method == "tools/call" && ct.Params != nil && !listed[ct.Params.Name] {
				return s.callTool(ct.Params.Name)(ctx, ct)
			}
			return next(ctx, method, req)
		}
	})
	for _, name := range c.Order {
		t := c.Tools[name]
		if t == nil || !c.Perms.Visible(c.Principal, t.Policy) || tools.DisabledReason(t.Impl) != "" {
			continue
		}
		spec := t.Impl.Spec()
		srv.AddTool(&mcp.Tool{Name: name, Description: spec.Description, InputSchema: spec.Parameters}, s.callTool(name))
		listed[name] = true
	}
	if c.Ask != nil && c.Perms.Has(c.Principal, c.AskPermission) {
		for _, a := range c.Agents {
			name := AskPrefix + a
			if _, clash := c.Tools[name]; clash || !tools.ValidName(name) {
				continue
			}
			srv.AddTool(&mcp.Tool{Name: name, Description: "Ask the " + a + " agent; it answers with its policy applied to you.",
				InputSchema: json.RawMessage(`{"type":"object","properties":{"message":{"type":"string","minLength":1}},"required":["message"],"additionalProperties":false}`)},
				s.ask(a))
			listed[name] = true
		}
	}
	return srv
}

func errorResult(msg string) *mcp.CallToolResult {
	r := &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: msg}}}
	r.IsError = true
	return r
}

// callTool is one call as a run through the front door: admitted, gated,
// and acted on. Each verdict's records are durable before it is acted on:
// run.started with tool.decided (then the call runs, and tool.finished
// with run.finished are recorded), with a denial's run.finished, or with
// approval.requested and run.paused (the call is stored for a person and
// nothing runs until then).
func (s *service) callTool(name string) mcp.ToolHandler {
	return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		c := callerOf(req.Extra)
		if c == nil {
			return nil, errors.New("no caller")
		}
		run, err := c.Door.Admit()
		if err != nil {
			return errorResult(name + ": too many runs in flight; try again shortly"), nil
		}
		defer run.Done()
		base := audit.Event{RequestID: c.RequestID, RunID: run.ID}.By(c.Principal)
		d := c.Gate.Decide(ctx, gate.Input{Door: gate.DoorMCPCall, Principal: c.Principal, Base: base,
			Declared: c.Tools, Offered: c.offered(), Call: llm.ToolCall{ID: ids.New("call_"), Name: name, Arguments: string(req.Params.Arguments)}})
		frame := runs.Frame{Resource: d.Event.Resource}
		evs := []audit.Event{runs.Started(base, frame, audit.TypeRunStarted, "mcp tools/call", nil), d.Event}
		switch d.Verdict {
		case gate.Deny:
			evs = append(evs, runs.Finished(base, frame, run.Start, s.cfg.Now(), runs.End{Outcome: "refused", Reason: d.Event.Reason}))
		case gate.Hold:
			evs = append(evs, runs.Finished(base, frame, run.Start, s.cfg.Now(), runs.End{Type: audit.TypeRunPaused, Outcome: "awaiting_approval"}))
		}
		if err := s.cfg.Audit.Record(ctx, evs...); err != nil {
			// Fail closed: nothing runs, or waits, that was not recorded.
			return nil, fmt.Errorf("the audit log cannot record: %w", err)
		}
		switch d.Verdict {
		case gate.Deny:
			return errorResult(d.Call.Name + ": " + d.Reason), nil
		case gate.Hold:
			return s.hold(ctx, c, base, d)
		}
		out := c.Exec.Execute(ctx, gate.Run{Decision: d, Principal: c.Principal, Base: base, Timeout: c.ToolTimeout})
		fin := runs.Finished(base, frame, run.Start, s.cfg.Now(), runs.End{Outcome: out.Status})
		if rerr := s.cfg.Audit.Record(context.WithoutCancel(ctx), append(out.Events(), fin)...); rerr != nil {
			s.cfg.Log.Error("record tool.finished", "tool", name, "error", rerr.Error())
		}
		if out.Err != nil {
			return errorResult(name + ": " + out.Finished.Content["error"]), nil
		}
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: out.Content}}}, nil
	}
}

// offered are the tools c may use: those whose permission it holds
// (disabled ones included, so the gate can say why they are refused).
func (c *Caller) offered() map[string]*agent.Tool {
	return gate.Callable(c.Perms, c.Principal, c.Tools)
}

// ask runs one turn of agent a for the caller; the run records itself.
func (s *service) ask(a string) mcp.ToolHandler {
	return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		c := callerOf(req.Extra)
		if c == nil {
			return nil, errors.New("no caller")
		}
		if !c.Perms.Has(c.Principal, c.AskPermission) {
			return errorResult(fmt.Sprintf("%s%s: the caller may not run agents (permission %s)", AskPrefix, a, c.AskPermission)), nil
		}
		var args struct {
			Message string `json:"message"`
		}
		if err := json.Unmarshal(req.Params.Arguments, &args); err != nil || args.Message == "" {
			return errorResult(AskPrefix + a + ": invalid arguments: message is required"), nil
		}
		ans, err := c.Ask(ctx, a, args.Message)
		if err != nil {
			return errorResult(AskPrefix + a + ": " + err.Error()), nil
		}
		if len(ans.Approvals) > 0 {
			return awaiting(ans.RunID, ans.Approvals), nil
		}
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: ans.Response}}}, nil
	}
}
