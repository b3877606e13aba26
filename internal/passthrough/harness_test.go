package passthrough_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/agent"
	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/authz"
	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/passthrough"
	"github.com/gatehousehq/gatehouse/internal/principal"
	"github.com/gatehousehq/gatehouse/internal/store/sqlite"
	"github.com/gatehousehq/gatehouse/internal/tools"
	"github.com/gatehousehq/gatehouse/internal/tools/schema"
)

// upstream is a scripted model: reply decides each turn from the request.
type upstream struct {
	mu    sync.Mutex
	reply func(n int, req llm.Request) *llm.Response
	reqs  []llm.Request
}

func (u *upstream) Stream(_ context.Context, req llm.Request, _ func(string) error) (*llm.Response, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.reqs = append(u.reqs, req)
	return u.reply(len(u.reqs)-1, req), nil
}

// sink is an audit log in memory.
type sink struct {
	mu  sync.Mutex
	evs []audit.Event
}

func (s *sink) Record(_ context.Context, evs ...audit.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.evs = append(s.evs, evs...)
	return nil
}

func (s *sink) all() []audit.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]audit.Event(nil), s.evs...)
}

const mailParams = `{"type":"object","required":["to"],"properties":{"to":{"type":"string"},"body":{"type":"string"}}}`

// clientTool is a declared client tool; send_email's condition keeps mail
// within the bank.
func clientTool(t *testing.T, name, perm string, cond authz.Condition) *agent.Tool {
	t.Helper()
	sch, err := schema.Compile(json.RawMessage(mailParams))
	if err != nil {
		t.Fatal(err)
	}
	return &agent.Tool{Impl: tools.NewClient(tools.Spec{Name: name, Parameters: json.RawMessage(mailParams)}),
		Policy: authz.ToolPolicy{Tool: name, Permission: perm, Condition: cond}, Decode: sch.Decode}
}

func withinBank(_ context.Context, _ *principal.Principal, args map[string]any) (bool, error) {
	to, _ := args["to"].(string)
	return strings.HasSuffix(to, "@bank.example"), nil
}

type harness struct {
	svc   *passthrough.Service
	up    *upstream
	audit *sink
	calls *sqlite.SessionStore
	n     int
}

var (
	alice   = &principal.Principal{Subject: "alice", Roles: []string{"clerk"}, Method: principal.MethodAPIKey}
	mallory = &principal.Principal{Subject: "mallory", Roles: []string{"clerk"}, Method: principal.MethodAPIKey}
)

// newHarness is a pass-through with send_email (email.send, within the
// bank) and wire_money (payments.write, which clerks lack), a real SQLite
// call store and reply as the upstream model.
func newHarness(t *testing.T, reply func(n int, req llm.Request) *llm.Response) *harness {
	t.Helper()
	calls, err := sqlite.OpenSessions(context.Background(), filepath.Join(t.TempDir(), "sessions.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = calls.Close() })
	h := &harness{up: &upstream{reply: reply}, audit: &sink{}, calls: calls}
	h.svc = &passthrough.Service{
		Perms: authz.NewPermissions(map[string][]string{"clerk": {"llm.use", "email.send"}}, nil),
		Tools: map[string]*agent.Tool{
			"send_email": clientTool(t, "send_email", "email.send", withinBank),
			"wire_money": clientTool(t, "wire_money", "payments.write", nil),
		},
		Models:   map[string]passthrough.Model{"gpt-test": {Name: "gpt-test", Permission: "llm.use"}},
		Upstream: h.up, Calls: calls, Audit: h.audit,
		Now: func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) },
		NewCallID: func() string {
			h.n++
			return fmt.Sprintf("call_%032x", h.n)
		},
	}
	return h
}

// request is one pass-through request by p, carrying its endpoint's
// authz.decided as Before.
func request(p *principal.Principal, msgs ...llm.Message) passthrough.Request {
	return passthrough.Request{
		Principal: p, Model: "gpt-test", Messages: msgs, RequestID: "req_1", RunID: "run_1",
		Tools: []passthrough.OfferedTool{{Name: "send_email"}},
		Before: []audit.Event{audit.Event{Type: audit.TypeAuthzDecided, RequestID: "req_1", Decision: audit.Allow,
			Resource: "POST /v1/chat/completions", Rule: "role:clerk grants llm.use"}.By(p)},
	}
}

func user(text string) llm.Message { return llm.Message{Role: "user", Content: text} }

func call(id, name, args string) llm.ToolCall {
	return llm.ToolCall{ID: id, Name: name, Arguments: args}
}

// proposes is an upstream that proposes calls on every turn.
func proposes(calls ...llm.ToolCall) func(int, llm.Request) *llm.Response {
	return func(int, llm.Request) *llm.Response {
		return &llm.Response{Message: llm.Message{Role: "assistant", ToolCalls: append([]llm.ToolCall(nil), calls...)}}
	}
}

// answers is an upstream that answers with text.
func answers(text string) func(int, llm.Request) *llm.Response {
	return func(int, llm.Request) *llm.Response {
		return &llm.Response{Message: llm.Message{Role: "assistant", Content: text}}
	}
}
