package chat_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehousehq/gatehouse/internal/agent"
	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/authz"
	"github.com/gatehousehq/gatehouse/internal/chat"
	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/principal"
	"github.com/gatehousehq/gatehouse/internal/runs"
	"github.com/gatehousehq/gatehouse/internal/session"
	"github.com/gatehousehq/gatehouse/internal/store/sqlite"
)

type memSink struct {
	mu     sync.Mutex
	events []audit.Event
}

func (m *memSink) Record(_ context.Context, evs ...audit.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events = append(m.events, evs...)
	return nil
}

func (m *memSink) types() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, e := range m.events {
		out = append(out, e.Type)
	}
	return out
}

type fixture struct {
	svc      *chat.Service
	sink     *memSink
	sessions session.Store
}

func newFixture(t *testing.T, mod func(*chat.Config)) *fixture {
	t.Helper()
	store, err := sqlite.OpenSessions(context.Background(), filepath.Join(t.TempDir(), "sessions.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	sink := &memSink{}
	agents := map[string]*agent.Agent{
		"support": {Name: "support", Limits: agent.Limits{MaxToolRounds: 2, RunTimeout: 5 * time.Second}},
		"billing": {Name: "billing", Limits: agent.Limits{MaxToolRounds: 2, RunTimeout: 5 * time.Second}},
	}
	cfg := chat.Config{
		Sessions: store, Agents: agents, DefaultAgent: "support", Audit: sink,
		Runner: &agent.Runner{Model: llm.Offline{}, DefaultModel: llm.OfflineModelName,
			Perms: authz.NewPermissions(nil, nil), Audit: sink, Log: slog.New(slog.DiscardHandler), Now: time.Now},
	}
	if mod != nil {
		mod(&cfg)
	}
	return &fixture{svc: chat.New(cfg), sink: sink, sessions: store}
}

var alice = &principal.Principal{Subject: "alice", Method: principal.Method("api_key")}

func TestService_NewSessionThenContinue(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	first, err := f.svc.Run(ctx, chat.Request{Principal: alice, Message: "hello", RequestID: "req_1"})
	if err != nil {
		t.Fatal(err)
	}
	if !session.ValidID(first.SessionID) || first.Agent != "support" || first.RunID == "" || first.ToolCalls == nil {
		t.Fatalf("first turn = %+v", first)
	}
	second, err := f.svc.Run(ctx, chat.Request{Principal: alice, SessionID: first.SessionID, Message: "again"})
	if err != nil {
		t.Fatal(err)
	}
	if second.SessionID != first.SessionID || second.RunID == first.RunID {
		t.Errorf("second turn = %+v, first %+v", second, first)
	}
	sess, err := f.svc.Session(ctx, alice, "req_3", first.SessionID)
	if err != nil {
		t.Fatal(err)
	}
	var roles []string
	for _, m := range sess.Messages {
		roles = append(roles, m.Role)
	}
	if diff := cmp.Diff([]string{"user", "assistant", "user", "assistant"}, roles); diff != "" {
		t.Errorf("stored roles (-want +got):\n%s", diff)
	}
}

func TestService_StatelessTurnStoresNothing(t *testing.T) {
	f := newFixture(t, nil)
	res, err := f.svc.Run(context.Background(), chat.Request{Principal: alice, Message: "hi", Stateless: true,
		History: []llm.Message{{Role: "user", Content: "earlier"}, {Role: "assistant", Content: "earlier answer"}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.SessionID != "" {
		t.Errorf("stateless turn has session %q", res.SessionID)
	}
	if _, err := f.svc.Run(context.Background(), chat.Request{Principal: alice, Message: "hi", Stateless: true,
		SessionID: session.NewID()}); err == nil {
		t.Error("a stateless turn with a session id ran")
	}
}

func TestService_OnEventHearsStartThenFinish(t *testing.T) {
	f := newFixture(t, nil)
	var got []chat.Event
	res, err := f.svc.Run(context.Background(), chat.Request{Principal: alice, Message: "hi",
		OnEvent: func(e chat.Event) { got = append(got, e) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Type != chat.EventStarted || got[1].Type != chat.EventFinished ||
		got[0].RunID != res.RunID || got[1].Result != res || got[0].SessionID != res.SessionID {
		t.Errorf("events = %+v, result %+v", got, res)
	}
}

// TestService_Refusals checks each refusal's sentinel error, that nothing
// runs, and that the request's own events (Before) are still recorded.
func TestService_Refusals(t *testing.T) {
	ctx := context.Background()
	before := audit.Event{Type: audit.TypeAuthzDecided, Decision: audit.Allow}
	tests := []struct {
		name      string
		mod       func(*chat.Config)
		req       func(t *testing.T, f *fixture) chat.Request
		want      error
		wantTypes []string
	}{
		{"empty message", nil, func(*testing.T, *fixture) chat.Request { return chat.Request{Principal: alice} },
			chat.ErrEmptyMessage, []string{audit.TypeAuthzDecided}},
		{"unknown agent", nil, func(*testing.T, *fixture) chat.Request {
			return chat.Request{Principal: alice, Message: "hi", Agent: "nobody"}
		}, chat.ErrUnknownAgent, []string{audit.TypeAuthzDecided}},
		{"malformed session id", nil, func(*testing.T, *fixture) chat.Request {
			return chat.Request{Principal: alice, Message: "hi", SessionID: "x"}
		}, chat.ErrMalformedSessionID, []string{audit.TypeAuthzDecided}},
		{"someone else's session", nil, func(t *testing.T, f *fixture) chat.Request {
			id := newSession(t, f, "bob-key", "support", 2)
			return chat.Request{Principal: alice, Message: "hi", SessionID: id}
		}, chat.ErrSessionNotFound, []string{audit.TypeAuthzDecided, audit.TypeSessionDenied}},
		{"session of another agent", nil, func(t *testing.T, f *fixture) chat.Request {
			id := newSession(t, f, alice.Key(), "billing", 2)
			return chat.Request{Principal: alice, Message: "hi", SessionID: id}
		}, chat.ErrAgentMismatch, []string{audit.TypeAuthzDecided}},
		{"full session", func(c *chat.Config) { c.Limits.MaxMessages = 2 }, func(t *testing.T, f *fixture) chat.Request {
			id := newSession(t, f, alice.Key(), "support", 2)
			return chat.Request{Principal: alice, Message: "hi", SessionID: id}
		}, chat.ErrSessionFull, []string{audit.TypeAuthzDecided}},
		{"overloaded", func(c *chat.Config) {
			c.Door = busy()
		}, func(*testing.T, *fixture) chat.Request { return chat.Request{Principal: alice, Message: "hi"} },
			chat.ErrOverloaded, []string{audit.TypeAuthzDecided}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.mod)
			req := tt.req(t, f)
			req.Before = []audit.Event{before}
			_, err := f.svc.Run(ctx, req)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if diff := cmp.Diff(tt.wantTypes, f.sink.types()); diff != "" {
				t.Errorf("recorded (-want +got):\n%s", diff)
			}
		})
	}
}

// busy is a door admitting one run, with one in flight that never ends.
func busy() *runs.Door {
	d := &runs.Door{InFlight: &runs.InFlight{}, Max: 1}
	if _, err := d.Admit(); err != nil {
		panic(err)
	}
	return d
}

func newSession(t *testing.T, f *fixture, subject, agentName string, n int) string {
	t.Helper()
	s := &session.Session{ID: session.NewID(), Subject: subject, Agent: agentName}
	for range n {
		s.Messages = append(s.Messages, session.Message{Role: "user", Content: "m"})
	}
	if err := f.sessions.Create(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return s.ID
}
