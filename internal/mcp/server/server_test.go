package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gatehousehq/gatehouse/internal/agent"
	"github.com/gatehousehq/gatehouse/internal/approval"
	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/authz"
	"github.com/gatehousehq/gatehouse/internal/gate"
	mcpserver "github.com/gatehousehq/gatehouse/internal/mcp/server"
	"github.com/gatehousehq/gatehouse/internal/principal"
	"github.com/gatehousehq/gatehouse/internal/runs"
	"github.com/gatehousehq/gatehouse/internal/store/sqlite"
	"github.com/gatehousehq/gatehouse/internal/tools"
	"github.com/gatehousehq/gatehouse/internal/tools/schema"
)

// counter is a tool that counts its runs.
type counter struct{ n atomic.Int32 }

func (c *counter) Spec() tools.Spec {
	return tools.Spec{Name: "pay", Parameters: json.RawMessage(`{"type":"object","properties":{"amount":{"type":"number"}},"required":["amount"],"additionalProperties":false}`)}
}
func (c *counter) Call(context.Context, tools.Args) (any, error) {
	c.n.Add(1)
	return map[string]string{"paid": "yes"}, nil
}

// sink records events, or fails when broken.
type sink struct {
	mu     sync.Mutex
	evs    []audit.Event
	broken bool
}

func (s *sink) Record(_ context.Context, evs ...audit.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken {
		return audit.ErrUnavailable
	}
	s.evs = append(s.evs, evs...)
	return nil
}

func (s *sink) types() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, e := range s.evs {
		out = append(out, e.Type+":"+e.Decision)
	}
	return out
}

type bearer struct{}

func (bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer test")
	return http.DefaultTransport.RoundTrip(r)
}

type world struct {
	tool  *counter
	sink  *sink
	store approval.Store
	cont  *mcpserver.Continuer
	sess  *mcp.ClientSession
}

// newWorld serves /mcp to alice (role agent) with tools pay (allowed
// under 100), big (needs a supervisor's approval) and vault (permission
// alice lacks), all backed by one counting tool.
func newWorld(t *testing.T) *world {
	t.Helper()
	st, err := sqlite.OpenSessions(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w := &world{tool: &counter{}, sink: &sink{}, store: st}
	sch, err := schema.Compile(w.tool.Spec().Parameters)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(name, perm string, appr *authz.ApprovalRule) *agent.Tool {
		return &agent.Tool{Impl: w.tool, Decode: sch.Decode, Policy: authz.ToolPolicy{Tool: name, Permission: perm, Approval: appr}}
	}
	ts := map[string]*agent.Tool{
		"pay":   mk("pay", "pay", nil),
		"big":   mk("big", "pay", &authz.ApprovalRule{Approvers: []string{"supervisor"}, TTL: time.Hour}),
		"vault": mk("vault", "vault.open", nil),
	}
	perms := authz.NewPermissions(map[string][]string{"agent": {"pay"}}, nil)
	g, x := &gate.Gate{Perms: perms}, &gate.Executor{}
	alice := &principal.Principal{Subject: "alice", Roles: []string{"agent"}, Method: principal.MethodAPIKey}
	w.cont = &mcpserver.Continuer{Tools: ts, Gate: g, Exec: x, Audit: w.sink}
	h := mcpserver.New(mcpserver.Config{Audit: w.sink, Caller: func(*http.Request) *mcpserver.Caller {
		return &mcpserver.Caller{Principal: alice, RequestID: "req_1", Perms: perms, Tools: ts, Order: []string{"big", "pay", "vault"},
			Gate: g, Exec: x, Approvals: st, Door: &runs.Door{}}
	}})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c := mcp.NewClient(&mcp.Implementation{Name: "unit", Version: "1"}, nil)
	w.sess, err = c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: srv.URL, DisableStandaloneSSE: true,
		HTTPClient: &http.Client{Transport: bearer{}, Timeout: 10 * time.Second}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.sess.Close() })
	return w
}

func (w *world) call(t *testing.T, name, args string) (*mcp.CallToolResult, error) {
	t.Helper()
	return w.sess.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: json.RawMessage(args)})
}

func text(r *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range r.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

func TestCallTool_EachVerdictIsRecordedBeforeItIsActedOn(t *testing.T) {
	cases := []struct {
		name, tool, args string
		isError          bool
		runs             int32
		events           []string
	}{
		{"allowed", "pay", `{"amount":5}`, false, 1, []string{"run.started:", "tool.decided:allow", "tool.finished:", "run.finished:"}},
		{"not offered", "vault", `{"amount":5}`, true, 0, []string{"run.started:", "tool.decided:deny", "run.finished:"}},
		{"invalid arguments", "pay", `{"amount":"x"}`, true, 0, []string{"run.started:", "tool.decided:deny", "run.finished:"}},
		{"held", "big", `{"amount":500}`, false, 0, []string{"run.started:", "approval.requested:", "run.paused:"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			r, err := w.call(t, c.tool, c.args)
			if err != nil || r.IsError != c.isError || w.tool.n.Load() != c.runs {
				t.Fatalf("isError %v (%v), ran %d times: %s", r != nil && r.IsError, err, w.tool.n.Load(), text(r))
			}
			if got := w.sink.types(); !slices.Equal(got, c.events) {
				t.Errorf("events %v, want %v", got, c.events)
			}
		})
	}
}

func TestCallTool_AHeldCallRunsOnceAfterApproval(t *testing.T) {
	w := newWorld(t)
	r, err := w.call(t, "big", `{"amount":500}`)
	if err != nil || r.IsError || !strings.Contains(text(r), "awaits human approval") {
		t.Fatalf("= %v %s", err, text(r))
	}
	var st struct {
		RunID     string `json:"run_id"`
		Approvals []struct {
			ID string `json:"id"`
		} `json:"approvals"`
	}
	b, _ := json.Marshal(r.StructuredContent)
	if json.Unmarshal(b, &st) != nil || st.RunID == "" || len(st.Approvals) != 1 {
		t.Fatalf("structured = %s", b)
	}
	ctx := context.Background()
	run, err := w.store.GetRun(ctx, st.RunID)
	if err != nil || run.Kind != approval.KindMCP || run.Status != approval.RunAwaiting {
		t.Fatalf("stored run = %+v, %v", run, err)
	}
	if err := w.store.Decide(ctx, st.Approvals[0].ID, approval.StatusApproved, approval.Requester{Subject: "sue", Method: "api_key"}, "", time.Now()); err != nil {
		t.Fatal(err)
	}
	as, _ := w.store.RunApprovals(ctx, st.RunID)
	for i := range 2 {
		out, err := w.cont.Continue(ctx, run, as, w.store.MarkExecuted)
		if err != nil {
			t.Fatal(err)
		}
		var res agent.RunResult
		_ = json.Unmarshal(out.Result, &res)
		want := "ok"
		if i == 1 {
			want = "denied" // the approved call was already run
		}
		if len(res.ToolCalls) != 1 || res.ToolCalls[0].Status != want {
			t.Errorf("continue %d: %s", i, out.Result)
		}
	}
	if n := w.tool.n.Load(); n != 1 {
		t.Errorf("the approved call ran %d times, want once", n)
	}
}

func TestCallTool_NothingRunsWhenTheAuditLogCannotRecord(t *testing.T) {
	w := newWorld(t)
	w.sink.mu.Lock()
	w.sink.broken = true
	w.sink.mu.Unlock()
	r, err := w.call(t, "pay", `{"amount":5}`)
	if err == nil && !r.IsError {
		t.Fatalf("a call that could not be recorded answered %s", text(r))
	}
	if n := w.tool.n.Load(); n != 0 {
		t.Errorf("the tool ran %d times", n)
	}
}
