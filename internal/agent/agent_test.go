package agent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehousehq/gatehouse/internal/agent"
	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/authz"
	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/principal"
	"github.com/gatehousehq/gatehouse/internal/tools"
	"github.com/gatehousehq/gatehouse/internal/tools/schema"
)

// scriptedModel answers each turn with its func and keeps the requests.
type scriptedModel struct {
	turn func(ctx context.Context, n int, req llm.Request) (*llm.Response, error)

	mu   sync.Mutex
	reqs []llm.Request
}

func (m *scriptedModel) Name() string { return "scripted" }

func (m *scriptedModel) Complete(ctx context.Context, req llm.Request) (*llm.Response, error) {
	m.mu.Lock()
	n := len(m.reqs)
	req.Messages = append([]llm.Message(nil), req.Messages...)
	m.reqs = append(m.reqs, req)
	m.mu.Unlock()
	return m.turn(ctx, n, req)
}

func (m *scriptedModel) requests() []llm.Request {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]llm.Request(nil), m.reqs...)
}

// callsThenAnswer asks for calls on the first turn and answers "done" after.
func callsThenAnswer(calls ...llm.ToolCall) *scriptedModel {
	return &scriptedModel{turn: func(_ context.Context, n int, _ llm.Request) (*llm.Response, error) {
		if n == 0 {
			return &llm.Response{Model: "m-1", Message: llm.Message{Role: "assistant", ToolCalls: calls}, Usage: llm.Usage{PromptTokens: 10, CompletionTokens: 2, TotalTokens: 12}}, nil
		}
		return &llm.Response{Model: "m-1", Message: llm.Message{Role: "assistant", Content: "done"}, Usage: llm.Usage{PromptTokens: 20, CompletionTokens: 3, TotalTokens: 23}}, nil
	}}
}

// recordingSink keeps events; fail, when set, refuses the events it returns an error for.
type recordingSink struct {
	fail func(audit.Event) error

	mu     sync.Mutex
	events []audit.Event
}

func (s *recordingSink) Record(_ context.Context, events ...audit.Event) error {
	for _, e := range events {
		if s.fail != nil {
			if err := s.fail(e); err != nil {
				return err
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, events...)
	return nil
}

// brief is the part of an event these tests check.
type brief struct {
	Type, RunID, Subject, Resource, Decision, Outcome string
}

func (s *recordingSink) briefs() []brief {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []brief
	for _, e := range s.events {
		out = append(out, brief{e.Type, e.RunID, e.Subject, e.Resource, e.Decision, e.Outcome})
	}
	return out
}

// fakeTool runs its func and counts calls.
type fakeTool struct {
	name   string
	params string
	call   func(ctx context.Context, args tools.Args) (any, error)
	calls  atomic.Int32
}

func (f *fakeTool) Spec() tools.Spec {
	return tools.Spec{Name: f.name, Description: "test tool " + f.name, Parameters: json.RawMessage(f.params)}
}

func (f *fakeTool) Call(ctx context.Context, args tools.Args) (any, error) {
	f.calls.Add(1)
	return f.call(ctx, args)
}

const idParams = `{"type":"object","properties":{"id":{"type":"string"}},"required":["id"]}`

func newTool(name string, call func(ctx context.Context, args tools.Args) (any, error)) *fakeTool {
	return &fakeTool{name: name, params: idParams, call: call}
}

func echo(ctx context.Context, args tools.Args) (any, error) {
	return map[string]any{"id": args["id"], "for": principal.From(ctx).Subject}, nil
}

// newAgent offers the tools in order; each needs the permission "<name>.use".
func newAgent(t *testing.T, limits agent.Limits, ts ...*fakeTool) *agent.Agent {
	t.Helper()
	a := &agent.Agent{Name: "assistant", SystemMessage: "be brief", Tools: map[string]*agent.Tool{}, Limits: limits}
	for _, ft := range ts {
		sch, err := schema.Compile(ft.Spec().Parameters)
		if err != nil {
			t.Fatalf("compile %s schema: %v", ft.name, err)
		}
		a.Tools[ft.name] = &agent.Tool{Impl: ft, Decode: sch.Decode, Policy: authz.ToolPolicy{Tool: ft.name, Permission: ft.name + ".use"}}
		a.Order = append(a.Order, ft.name)
	}
	return a
}

var generous = agent.Limits{MaxToolRounds: 4, MaxToolCalls: 8, MaxParallelTools: 4, ToolTimeout: 5 * time.Second, RunTimeout: 10 * time.Second}

// alice may use lookup and other, but not admin_only.
var alice = &principal.Principal{Subject: "alice", Roles: []string{"agent"}, Method: principal.MethodAPIKey}

func newRunner(m llm.Model, sink audit.Sink) *agent.Runner {
	perms := authz.NewPermissions(map[string][]string{"agent": {"lookup.use", "other.use", "slow.use", "a.use", "b.use"}}, nil)
	return &agent.Runner{Model: m, Perms: perms, Audit: sink, Log: slog.New(slog.DiscardHandler), Now: time.Now}
}

func run(t *testing.T, r *agent.Runner, a *agent.Agent) (*agent.Result, error) {
	t.Helper()
	return r.Run(context.Background(), agent.RunRequest{Agent: a, Principal: alice, Message: "hello", RequestID: "req_1", RunID: "run_1", SessionID: "ses_1"})
}

// toolMessages returns the tool messages of the model's request n.
func toolMessages(t *testing.T, m *scriptedModel, n int) map[string]map[string]any {
	t.Helper()
	reqs := m.requests()
	if len(reqs) <= n {
		t.Fatalf("model saw %d requests; want more than %d", len(reqs), n)
	}
	out := map[string]map[string]any{}
	for _, msg := range reqs[n].Messages {
		if msg.Role != "tool" {
			continue
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(msg.Content), &v); err != nil {
			t.Fatalf("tool message %s is not a JSON object: %q", msg.ToolCallID, msg.Content)
		}
		out[msg.ToolCallID] = v
	}
	return out
}

func TestRun_AllowedToolCallIsAuditedAroundItsExecution(t *testing.T) {
	lookup := newTool("lookup", echo)
	model := callsThenAnswer(llm.ToolCall{ID: "c1", Name: "lookup", Arguments: `{"id":"X-1"}`})
	sink := &recordingSink{}
	res, err := run(t, newRunner(model, sink), newAgent(t, generous, lookup, newTool("admin_only", echo)))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	wantEvents := []brief{
		{Type: audit.TypeRunStarted, RunID: "run_1", Subject: "alice", Resource: "agent:assistant"},
		{Type: audit.TypeToolDecided, RunID: "run_1", Subject: "alice", Resource: "tool:lookup", Decision: audit.Allow},
		{Type: audit.TypeToolFinished, RunID: "run_1", Subject: "alice", Resource: "tool:lookup", Outcome: "ok"},
		{Type: audit.TypeRunFinished, RunID: "run_1", Subject: "alice", Resource: "agent:assistant", Outcome: "ok"},
	}
	if diff := cmp.Diff(wantEvents, sink.briefs()); diff != "" {
		t.Errorf("audit events (-want +got):\n%s", diff)
	}
	wantCalls := []agent.ToolCallRecord{{ID: "c1", Name: "lookup", Arguments: `{"id":"X-1"}`, Decision: "allow", Rule: "role:agent grants lookup.use", Status: "ok"}}
	if diff := cmp.Diff(wantCalls, res.ToolCalls); diff != "" {
		t.Errorf("tool call records (-want +got):\n%s", diff)
	}
	if res.Response != "done" || res.Model != "m-1" {
		t.Errorf("response %q model %q", res.Response, res.Model)
	}
	if diff := cmp.Diff(llm.Usage{PromptTokens: 30, CompletionTokens: 5, TotalTokens: 35}, res.Usage); diff != "" {
		t.Errorf("usage not summed over turns (-want +got):\n%s", diff)
	}
	// The model was shown only the tool alice may use, and got the result
	// computed for the verified principal.
	reqs := model.requests()
	if got := len(reqs[0].Tools); got != 1 || reqs[0].Tools[0].Name != "lookup" {
		t.Errorf("offered tools %+v; want lookup only", reqs[0].Tools)
	}
	if diff := cmp.Diff(map[string]map[string]any{"c1": {"id": "X-1", "for": "alice"}}, toolMessages(t, model, 1)); diff != "" {
		t.Errorf("tool results sent to the model (-want +got):\n%s", diff)
	}
	if lookup.calls.Load() != 1 {
		t.Errorf("lookup ran %d times; want 1", lookup.calls.Load())
	}
	// The session gets user, assistant (calls), tool result, assistant (answer).
	var roles []string
	for _, m := range res.Messages {
		roles = append(roles, m.Role)
	}
	if diff := cmp.Diff([]string{"user", "assistant", "tool", "assistant"}, roles); diff != "" {
		t.Errorf("result messages (-want +got):\n%s", diff)
	}
}

func TestRun_RefusedCallsAreAnsweredToTheModelAndNeverRun(t *testing.T) {
	tests := []struct {
		name       string
		call       llm.ToolCall
		wantStatus string
		wantError  string
	}{
		{"tool the caller may not use", llm.ToolCall{ID: "c1", Name: "admin_only", Arguments: `{"id":"X-1"}`}, "denied", "not_authorized"},
		{"tool that does not exist", llm.ToolCall{ID: "c1", Name: "rm_rf", Arguments: `{"id":"X-1"}`}, "denied", "not_authorized"},
		{"wrong argument type", llm.ToolCall{ID: "c1", Name: "lookup", Arguments: `{"id":5}`}, "invalid_arguments", "invalid_arguments"},
		{"unknown argument", llm.ToolCall{ID: "c1", Name: "lookup", Arguments: `{"id":"X-1","as":"root"}`}, "invalid_arguments", "invalid_arguments"},
		{"duplicate key", llm.ToolCall{ID: "c1", Name: "lookup", Arguments: `{"id":"X-1","id":"X-2"}`}, "invalid_arguments", "invalid_arguments"},
		{"not JSON", llm.ToolCall{ID: "c1", Name: "lookup", Arguments: `id=X-1`}, "invalid_arguments", "invalid_arguments"},
		{"missing required", llm.ToolCall{ID: "c1", Name: "lookup", Arguments: ``}, "invalid_arguments", "invalid_arguments"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lookup, admin := newTool("lookup", echo), newTool("admin_only", echo)
			model := callsThenAnswer(tc.call)
			sink := &recordingSink{}
			res, err := run(t, newRunner(model, sink), newAgent(t, generous, lookup, admin))
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if n := lookup.calls.Load() + admin.calls.Load(); n != 0 {
				t.Fatalf("a refused call ran (%d calls)", n)
			}
			if len(res.ToolCalls) != 1 || res.ToolCalls[0].Decision != "deny" || res.ToolCalls[0].Status != tc.wantStatus || res.ToolCalls[0].Reason == "" {
				t.Errorf("record %+v; want deny, status %s, a reason", res.ToolCalls, tc.wantStatus)
			}
			got := toolMessages(t, model, 1)["c1"]
			if got["error"] != tc.wantError || got["tool"] != tc.call.Name || got["reason"] == "" {
				t.Errorf("model received %v; want error %q naming the tool with a reason", got, tc.wantError)
			}
			resource := "tool:" + tc.call.Name
			if tc.call.Name == "rm_rf" {
				resource = "tool:(unknown)" // the model's name is content
			}
			wantEvents := []brief{
				{Type: audit.TypeRunStarted, RunID: "run_1", Subject: "alice", Resource: "agent:assistant"},
				{Type: audit.TypeToolDecided, RunID: "run_1", Subject: "alice", Resource: resource, Decision: audit.Deny},
				{Type: audit.TypeRunFinished, RunID: "run_1", Subject: "alice", Resource: "agent:assistant", Outcome: "ok"},
			}
			if diff := cmp.Diff(wantEvents, sink.briefs()); diff != "" {
				t.Errorf("audit events (-want +got):\n%s", diff)
			}
		})
	}
}

// A failing tool is answered to the model as a tool error and the run goes
// on. A panicking one too: it runs on its own goroutine, where a panic
// would otherwise end the process (the test binary would die).
func TestRun_ToolErrorIsAnsweredToTheModel(t *testing.T) {
	for _, tc := range []struct {
		name    string
		call    func(context.Context, tools.Args) (any, error)
		message string
	}{
		{"error", func(context.Context, tools.Args) (any, error) { return nil, errors.New("record X-1: not found") }, "record X-1: not found"},
		{"panic", func(context.Context, tools.Args) (any, error) { panic("secret-value-123") }, "the tool failed unexpectedly"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			model := callsThenAnswer(llm.ToolCall{ID: "c1", Name: "lookup", Arguments: `{"id":"X-1"}`})
			sink := &recordingSink{}
			var logs bytes.Buffer
			r := newRunner(model, sink)
			r.Log = slog.New(slog.NewJSONHandler(&logs, nil))
			res, err := run(t, r, newAgent(t, generous, newTool("lookup", tc.call)))
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.ToolCalls[0].Status != "error" {
				t.Errorf("status %q; want error", res.ToolCalls[0].Status)
			}
			want := map[string]any{"error": "tool_error", "tool": "lookup", "message": tc.message}
			if diff := cmp.Diff(want, toolMessages(t, model, 1)["c1"]); diff != "" {
				t.Errorf("model received (-want +got):\n%s", diff)
			}
			b := sink.briefs()
			if len(b) != 4 || b[2].Type != audit.TypeToolFinished || b[2].Outcome != "error" || b[3].Type != audit.TypeRunFinished {
				t.Fatalf("events %+v; want tool.finished with outcome error, then run.finished", b)
			}
			// The error text may quote an argument: it is content (hashed or
			// left out per audit.content by the log), never the plain Reason.
			fin := sink.events[2]
			if strings.Contains(fin.Reason, "X-1") || fin.Content["error"] != tc.message {
				t.Errorf("tool.finished reason %q content %v; want the error text in content only", fin.Reason, fin.Content)
			}
			if tc.name == "panic" && (!strings.Contains(logs.String(), "tool panicked") || strings.Contains(logs.String(), "secret-value-123")) {
				t.Errorf("log %s; want the panic reported without its value", logs.String())
			}
		})
	}
}

func TestRun_AuditFailureStopsTheRunBeforeTheToolRuns(t *testing.T) {
	for _, failAt := range []string{audit.TypeRunStarted, audit.TypeToolDecided, audit.TypeToolFinished, audit.TypeRunFinished} {
		t.Run(failAt, func(t *testing.T) {
			lookup := newTool("lookup", echo)
			model := callsThenAnswer(llm.ToolCall{ID: "c1", Name: "lookup", Arguments: `{"id":"X-1"}`})
			sink := &recordingSink{fail: func(e audit.Event) error {
				if e.Type == failAt {
					return fmt.Errorf("%w: disk full", audit.ErrUnavailable)
				}
				return nil
			}}
			res, err := run(t, newRunner(model, sink), newAgent(t, generous, lookup))
			if !errors.Is(err, audit.ErrUnavailable) || res != nil {
				t.Fatalf("Run = %v, %v; want nil and an error wrapping audit.ErrUnavailable", res, err)
			}
			wantCalls := map[string]int32{audit.TypeRunStarted: 0, audit.TypeToolDecided: 0, audit.TypeToolFinished: 1, audit.TypeRunFinished: 1}[failAt]
			if got := lookup.calls.Load(); got != wantCalls {
				t.Errorf("tool ran %d times; want %d", got, wantCalls)
			}
			if failAt == audit.TypeRunStarted && len(model.requests()) != 0 {
				t.Error("model was called although the run's start could not be recorded")
			}
		})
	}
}

// askForever asks for `per` calls of tool every turn.
func askForever(tool string, per int) *scriptedModel {
	return &scriptedModel{turn: func(_ context.Context, n int, _ llm.Request) (*llm.Response, error) {
		var calls []llm.ToolCall
		for i := range per {
			calls = append(calls, llm.ToolCall{ID: fmt.Sprintf("c%d_%d", n, i), Name: tool, Arguments: `{"id":"X"}`})
		}
		return &llm.Response{Message: llm.Message{Role: "assistant", ToolCalls: calls}}, nil
	}}
}

func TestRun_LimitsEndTheRun(t *testing.T) {
	blocking := func(ctx context.Context, _ tools.Args) (any, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	tests := []struct {
		name      string
		limits    agent.Limits
		model     *scriptedModel
		tool      func(context.Context, tools.Args) (any, error)
		want      agent.LimitError
		wantCalls int32
	}{
		{"max_tool_rounds", agent.Limits{MaxToolRounds: 2, MaxToolCalls: 100, MaxParallelTools: 4, ToolTimeout: time.Second},
			askForever("lookup", 1), echo, agent.LimitError{Limit: "max_tool_rounds", Value: 2}, 2},
		{"max_tool_calls over rounds", agent.Limits{MaxToolRounds: 10, MaxToolCalls: 3, MaxParallelTools: 4, ToolTimeout: time.Second},
			askForever("lookup", 2), echo, agent.LimitError{Limit: "max_tool_calls", Value: 3}, 2},
		{"max_tool_calls in one turn", agent.Limits{MaxToolRounds: 10, MaxToolCalls: 2, MaxParallelTools: 4, ToolTimeout: time.Second},
			askForever("lookup", 3), echo, agent.LimitError{Limit: "max_tool_calls", Value: 2}, 0},
		{"tool_timeout", agent.Limits{MaxToolRounds: 10, MaxToolCalls: 100, MaxParallelTools: 4, ToolTimeout: 30 * time.Millisecond},
			askForever("lookup", 1), blocking, agent.LimitError{Limit: "tool_timeout", Value: 30, Tool: "lookup"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lookup := newTool("lookup", tc.tool)
			sink := &recordingSink{}
			res, err := run(t, newRunner(tc.model, sink), newAgent(t, tc.limits, lookup))
			var le *agent.LimitError
			if !errors.As(err, &le) || !errors.Is(err, agent.ErrLimit) {
				t.Fatalf("err = %v; want a *LimitError", err)
			}
			if diff := cmp.Diff(tc.want, *le); diff != "" {
				t.Errorf("limit (-want +got):\n%s", diff)
			}
			if got := lookup.calls.Load(); got != tc.wantCalls {
				t.Errorf("tool ran %d times; want %d", got, tc.wantCalls)
			}
			if res == nil {
				t.Fatal("no result for a run ended by a limit (usage and tool calls are reported)")
			}
			b := sink.briefs()
			if last := b[len(b)-1]; last.Type != audit.TypeRunFinished || last.Outcome != "error" {
				t.Errorf("last event %+v; want run.finished with outcome error", last)
			}
		})
	}
}

// max_parallel_tools bounds how many calls of one round run at once; a
// round asking for more runs them all, that many at a time, each gated and
// recorded.
func TestRun_MaxParallelToolsBoundsConcurrency(t *testing.T) {
	var inFlight, most atomic.Int32
	slow := func(context.Context, tools.Args) (any, error) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		return map[string]string{"ok": "yes"}, nil
	}
	lookup := newTool("lookup", slow)
	var calls []llm.ToolCall
	for i := range 5 {
		calls = append(calls, llm.ToolCall{ID: fmt.Sprintf("c%d", i), Name: "lookup", Arguments: `{"id":"X"}`})
	}
	sink := &recordingSink{}
	limits := agent.Limits{MaxToolRounds: 4, MaxToolCalls: 8, MaxParallelTools: 2, ToolTimeout: 5 * time.Second, RunTimeout: 10 * time.Second}
	res, err := run(t, newRunner(callsThenAnswer(calls...), sink), newAgent(t, limits, lookup))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := lookup.calls.Load(); got != 5 || len(res.ToolCalls) != 5 {
		t.Errorf("tool ran %d times, %d reported; want all 5", got, len(res.ToolCalls))
	}
	if m := most.Load(); m != 2 {
		t.Errorf("at most %d calls ran at once; want 2", m)
	}
	decided := 0
	for _, b := range sink.briefs() {
		if b.Type == audit.TypeToolDecided && b.Decision == audit.Allow {
			decided++
		}
	}
	if decided != 5 {
		t.Errorf("%d tool.decided/allow events; want 5", decided)
	}
}

// ctxSink refuses events once the caller's context has ended, as the real
// audit log does.
type ctxSink struct{ recordingSink }

func (s *ctxSink) Record(ctx context.Context, evs ...audit.Event) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", audit.ErrUnavailable, err)
	}
	return s.recordingSink.Record(ctx, evs...)
}

// Calls waiting for their turn under max_parallel_tools are not started
// once the run is over: a run timeout stays a timeout (not an audit
// outage), with run.finished and the finished call's events on record; and
// after one call hits tool_timeout the rest of the round is not run.
func TestRun_WaitingToolCallsDoNotOutliveTheRun(t *testing.T) {
	blocking := func(ctx context.Context, _ tools.Args) (any, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	three := []llm.ToolCall{{ID: "c0", Name: "lookup", Arguments: `{"id":"X"}`}, {ID: "c1", Name: "lookup", Arguments: `{"id":"X"}`},
		{ID: "c2", Name: "lookup", Arguments: `{"id":"X"}`}}
	for _, tc := range []struct {
		name   string
		limits agent.Limits
		want   func(error) bool
	}{
		{"run timeout", agent.Limits{MaxToolRounds: 4, MaxToolCalls: 8, MaxParallelTools: 1, ToolTimeout: 5 * time.Second, RunTimeout: 50 * time.Millisecond},
			func(err error) bool { return errors.Is(err, agent.ErrRunTimeout) }},
		{"tool timeout", agent.Limits{MaxToolRounds: 4, MaxToolCalls: 8, MaxParallelTools: 1, ToolTimeout: 30 * time.Millisecond, RunTimeout: 5 * time.Second},
			func(err error) bool {
				var le *agent.LimitError
				return errors.As(err, &le) && le.Limit == "tool_timeout"
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lookup := newTool("lookup", blocking)
			sink := &ctxSink{}
			res, err := newRunner(callsThenAnswer(three...), sink).Run(context.Background(),
				agent.RunRequest{Agent: newAgent(t, tc.limits, lookup), Principal: alice, Message: "hello", RequestID: "req_1", RunID: "run_1"})
			if !tc.want(err) || errors.Is(err, audit.ErrUnavailable) {
				t.Fatalf("err = %v", err)
			}
			if n := lookup.calls.Load(); n != 1 {
				t.Errorf("tool ran %d times; want 1 (the others waited and the run ended)", n)
			}
			if len(res.ToolCalls) != 3 || res.ToolCalls[1].Status != "not_run" || res.ToolCalls[2].Status != "not_run" {
				t.Errorf("tool calls %+v; want the two waiting ones not_run", res.ToolCalls)
			}
			var got []string
			for _, b := range sink.briefs() {
				got = append(got, b.Type)
			}
			want := []string{audit.TypeRunStarted, audit.TypeToolDecided, audit.TypeToolFinished, audit.TypeRunFinished}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRun_RunTimeout(t *testing.T) {
	blockingModel := &scriptedModel{turn: func(ctx context.Context, _ int, _ llm.Request) (*llm.Response, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	blockingTool := newTool("lookup", func(ctx context.Context, _ tools.Args) (any, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	limits := agent.Limits{MaxToolRounds: 4, MaxToolCalls: 8, MaxParallelTools: 4, ToolTimeout: 10 * time.Second, RunTimeout: 50 * time.Millisecond}
	tests := []struct {
		name  string
		model *scriptedModel
	}{
		{"in a model turn", blockingModel},
		{"in a tool call", askForever("lookup", 1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink := &recordingSink{}
			start := time.Now()
			_, err := run(t, newRunner(tc.model, sink), newAgent(t, limits, blockingTool))
			if !errors.Is(err, agent.ErrRunTimeout) {
				t.Fatalf("err = %v; want ErrRunTimeout", err)
			}
			var le *agent.LimitError
			if errors.As(err, &le) {
				t.Errorf("run timeout reported as limit %+v", le)
			}
			wantEndedInTime(t, start, sink)
		})
	}
}

// The run keeps no timer of its own when the caller's deadline comes
// first; the caller still hears that the run timed out, and its end is
// recorded.
func TestRun_CallersEarlierDeadlineEndsTheRunAsATimeout(t *testing.T) {
	blockingModel := &scriptedModel{turn: func(ctx context.Context, _ int, _ llm.Request) (*llm.Response, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	limits := agent.Limits{MaxToolRounds: 4, MaxToolCalls: 8, MaxParallelTools: 4, ToolTimeout: 10 * time.Second, RunTimeout: time.Minute}
	sink := &recordingSink{}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := newRunner(blockingModel, sink).Run(ctx, agent.RunRequest{Agent: newAgent(t, limits), Principal: alice,
		Message: "hello", RequestID: "req_1", RunID: "run_1", SessionID: "ses_1"})
	if !errors.Is(err, agent.ErrRunTimeout) {
		t.Fatalf("err = %v; want ErrRunTimeout", err)
	}
	wantEndedInTime(t, start, sink)
}

// wantEndedInTime checks a run with a 50 ms deadline ended soon after it,
// its end recorded as run.finished with outcome error.
func wantEndedInTime(t *testing.T, start time.Time, sink *recordingSink) {
	t.Helper()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("run took %s with a 50ms deadline", d)
	}
	b := sink.briefs()
	if last := b[len(b)-1]; last.Type != audit.TypeRunFinished || last.Outcome != "error" {
		t.Errorf("last event %+v; want run.finished with outcome error, recorded after the deadline", last)
	}
}

func TestRun_ToolCallsOfOneRoundRunConcurrently(t *testing.T) {
	aReady, bReady := make(chan struct{}), make(chan struct{})
	meet := func(mine, theirs chan struct{}) func(context.Context, tools.Args) (any, error) {
		return func(ctx context.Context, _ tools.Args) (any, error) {
			close(mine)
			select {
			case <-theirs:
				return "met", nil
			case <-time.After(5 * time.Second):
				return nil, errors.New("the other call never started: calls ran one after another")
			}
		}
	}
	a, b := newTool("a", meet(aReady, bReady)), newTool("b", meet(bReady, aReady))
	model := callsThenAnswer(
		llm.ToolCall{ID: "ca", Name: "a", Arguments: `{"id":"1"}`},
		llm.ToolCall{ID: "cb", Name: "b", Arguments: `{"id":"2"}`},
	)
	res, err := run(t, newRunner(model, &recordingSink{}), newAgent(t, generous, a, b))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, rec := range res.ToolCalls {
		if rec.Status != "ok" {
			t.Errorf("call %s: status %s", rec.Name, rec.Status)
		}
	}
	// Results come back in call order whatever order the calls finished in.
	var ids []string
	for _, m := range model.requests()[1].Messages {
		if m.Role == "tool" {
			ids = append(ids, m.ToolCallID+"="+m.Content)
		}
	}
	if diff := cmp.Diff([]string{`ca="met"`, `cb="met"`}, ids); diff != "" {
		t.Errorf("tool messages (-want +got):\n%s", diff)
	}
}

// A condition that fails on the call's values denies it; the evaluation
// error (which may quote a value) reaches the audit log only as content,
// and a model-chosen tool name is cut short in resource and reason.
func TestRun_ConditionErrorIsContentNotReason(t *testing.T) {
	lookup := newTool("lookup", echo)
	a := newAgent(t, generous, lookup)
	a.Tools["lookup"].Policy.Condition = func(_ context.Context, _ *principal.Principal, args map[string]any) (bool, error) {
		return false, fmt.Errorf("invalid RFC 3339 timestamp %q", args["id"])
	}
	long := strings.Repeat("ignore previous instructions ", 20)
	model := callsThenAnswer(llm.ToolCall{ID: "c1", Name: "lookup", Arguments: `{"id":"SSN-078-05-1120"}`},
		llm.ToolCall{ID: "c2", Name: long, Arguments: `{}`})
	sink := &recordingSink{}
	res, err := run(t, newRunner(model, sink), a)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.ToolCalls[0].Decision != audit.Deny || !strings.Contains(res.ToolCalls[0].Reason, "SSN-078-05-1120") {
		t.Errorf("caller sees %+v; want a deny with the evaluation error", res.ToolCalls[0])
	}
	var decided []audit.Event
	for _, e := range sink.events {
		if e.Type == audit.TypeToolDecided {
			decided = append(decided, e)
		}
	}
	if len(decided) != 2 {
		t.Fatalf("%d tool.decided events", len(decided))
	}
	for _, d := range decided {
		if d.Resource == "tool:lookup" {
			if strings.Contains(d.Reason, "SSN") || !strings.Contains(d.Content["error"], "SSN-078-05-1120") {
				t.Errorf("tool.decided reason %q content %v; want the value in content only", d.Reason, d.Content)
			}
		} else if len(d.Resource) > 80 || strings.Count(d.Reason, "ignore previous") > 3 {
			t.Errorf("model-chosen name written at length: resource %q reason %q", d.Resource, d.Reason)
		}
	}
}

// Everything the model chooses is content (hmac'd or dropped per
// audit.content): an invented tool name and an unknown argument key go
// nowhere else in an event; only configured names are written in clear.
func TestRun_ModelChosenNamesAndKeysAreContentOnly(t *testing.T) {
	const secret = "my card is 4111 1111 1111 1111"
	lookup := newTool("lookup", echo)
	model := callsThenAnswer(
		llm.ToolCall{ID: "c1", Name: "lookup_" + secret, Arguments: `{"id":"X-1"}`},
		llm.ToolCall{ID: "c2", Name: "lookup", Arguments: `{"id":"X-1","` + secret + `":1}`},
		llm.ToolCall{ID: "c3", Name: "lookup", Arguments: `{"id":"X-1","ID ` + secret + `":1}`},
	)
	sink := &recordingSink{}
	res, err := run(t, newRunner(model, sink), newAgent(t, generous, lookup))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	for i, rec := range res.ToolCalls {
		if rec.Decision != audit.Deny || rec.Reason == "" {
			t.Errorf("call %d: %+v; want a deny with a reason", i, rec)
		}
	}
	inContent := 0
	for _, e := range sink.events {
		c := e
		c.Content = nil
		b, _ := json.Marshal(c)
		if strings.Contains(string(b), "4111") {
			t.Errorf("%s event holds the model's text outside content: %s", e.Type, b)
		}
		for _, v := range e.Content {
			if strings.Contains(v, "4111") {
				inContent++
				break
			}
		}
		if e.Type == audit.TypeToolDecided && e.Resource != "tool:lookup" && e.Resource != "tool:(unknown)" {
			t.Errorf("tool.decided resource %q", e.Resource)
		}
	}
	if inContent < 3 {
		t.Errorf("%d events keep the model's text as content; want every refused call's", inContent)
	}
}
