package gate_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/approval"
	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/authz"
	"github.com/gatehousehq/gatehouse/internal/gate"
	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/principal"
	"github.com/gatehousehq/gatehouse/internal/tools"
)

// fakeTool counts its calls; disabled, it says why.
type fakeTool struct {
	calls    atomic.Int32
	disabled string
	run      func(ctx context.Context) (any, error)
}

func (f *fakeTool) Spec() tools.Spec { return tools.Spec{Name: "t", Parameters: tools.EmptySchema()} }
func (f *fakeTool) Disabled() string { return f.disabled }
func (f *fakeTool) Call(ctx context.Context, _ tools.Args) (any, error) {
	f.calls.Add(1)
	if f.run != nil {
		return f.run(ctx)
	}
	return map[string]string{"ok": "yes"}, nil
}

func decodeJSON(raw []byte) (tools.Args, error) {
	var a tools.Args
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, err
	}
	if _, bad := a["bad"]; bad {
		return nil, &json.UnsupportedValueError{Str: "bad"}
	}
	return a, nil
}

func tool(name, perm, cond string, appr *authz.ApprovalRule) *gate.Tool {
	pol := authz.ToolPolicy{Tool: name, Permission: perm, Source: cond, Approval: appr}
	if cond != "" {
		pol.Condition = func(_ context.Context, _ *principal.Principal, args map[string]any) (bool, error) {
			return args["amount"] != nil && args["amount"].(float64) < 100, nil
		}
	}
	return &gate.Tool{Impl: &fakeTool{}, Policy: pol, Decode: decodeJSON}
}

func TestDecide_TheVerdictOfEachCase(t *testing.T) {
	perms := authz.NewPermissions(map[string][]string{"agent": {"pay", "read"}}, nil)
	clk := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	g := &gate.Gate{Perms: perms, Now: func() time.Time { return clk }, NewApprovalID: func() string { return "apr_x" }}
	off := tool("off", "pay", "", nil)
	off.Impl.(*fakeTool).disabled = "the server changed this tool"
	declared := map[string]*gate.Tool{
		"read":  tool("read", "read", "", nil),
		"pay":   tool("pay", "pay", "args.amount < 100", nil),
		"wire":  tool("wire", "pay", "", &authz.ApprovalRule{Approvers: []string{"supervisor"}, TTL: time.Hour}),
		"admin": tool("admin", "admin", "", nil),
		"off":   off,
	}
	offered := map[string]*gate.Tool{"read": declared["read"], "pay": declared["pay"], "wire": declared["wire"], "off": off}
	p := &principal.Principal{Subject: "alice", Roles: []string{"agent"}, Method: principal.MethodAPIKey}
	cases := []struct {
		name, tool, args string
		verdict          gate.Verdict
		status, rule     string
		event            string
	}{
		{"allowed", "read", `{}`, gate.Allow, "", "role:agent grants read", audit.TypeToolDecided},
		{"condition allows", "pay", `{"amount":5}`, gate.Allow, "", "condition of pay", audit.TypeToolDecided},
		{"condition denies", "pay", `{"amount":500}`, gate.Deny, "denied", "condition of pay", audit.TypeToolDecided},
		{"needs approval", "wire", `{}`, gate.Hold, gate.StatusAwaitingApproval, "approval of wire", audit.TypeApprovalRequested},
		{"not offered", "admin", `{}`, gate.Deny, "denied", "tool not offered", audit.TypeToolDecided},
		{"not configured", "made_up", `{}`, gate.Deny, "denied", "tool not offered", audit.TypeToolDecided},
		{"disabled", "off", `{}`, gate.Deny, "denied", "tool disabled", audit.TypeToolDecided},
		{"invalid arguments", "read", `{"bad":1}`, gate.Deny, "invalid_arguments", "argument schema of read", audit.TypeToolDecided},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := g.Decide(context.Background(), gate.Input{Door: gate.DoorMCPCall, Principal: p, Base: audit.Event{RunID: "run_1"},
				Declared: declared, Offered: offered, Call: llm.ToolCall{ID: "c1", Name: c.tool, Arguments: c.args}})
			if d.Verdict != c.verdict || d.Status != c.status || d.Event.Type != c.event || !strings.Contains(d.Event.Rule, c.rule) {
				t.Fatalf("verdict %v status %q event %s rule %q; want %v %q %s ~%q", d.Verdict, d.Status, d.Event.Type, d.Event.Rule, c.verdict, c.status, c.event, c.rule)
			}
			if d.Event.RunID != "run_1" {
				t.Errorf("the event lost its base: %+v", d.Event)
			}
		})
	}
	t.Run("a hold carries its approval", func(t *testing.T) {
		d := g.Decide(context.Background(), gate.Input{Door: gate.DoorAgent, Principal: p, Declared: declared, Offered: offered,
			Call: llm.ToolCall{ID: "c9", Name: "wire", Arguments: `{"to":"x","amount":1}`}})
		h := d.Held
		if h == nil || h.ApprovalID != "apr_x" || h.Arguments != `{"amount":1,"to":"x"}` || h.ArgsSHA256 != approval.ArgsHash(h.Arguments) || !h.ExpiresAt.Equal(clk.Add(time.Hour)) {
			t.Fatalf("held = %+v", h)
		}
		if u := d.WithoutHold(); u.Verdict != gate.Allow || u.Event.Type != audit.TypeToolDecided || u.Held != nil {
			t.Errorf("without the hold: %+v", u)
		}
	})
	t.Run("an unregistered door is refused", func(t *testing.T) {
		d := g.Decide(context.Background(), gate.Input{Principal: p, Declared: declared, Offered: offered, Call: llm.ToolCall{Name: "read", Arguments: `{}`}})
		if d.Verdict != gate.Deny || d.Rule.Rule != "unregistered door" {
			t.Fatalf("= %+v", d)
		}
	})
}

func TestRecheck_AnApprovalDoesNotOverrideTheLivePolicy(t *testing.T) {
	declared := map[string]*gate.Tool{"wire": tool("wire", "pay", "", &authz.ApprovalRule{Approvers: []string{"supervisor"}, TTL: time.Hour})}
	p := &principal.Principal{Subject: "alice", Roles: []string{"agent"}, Method: principal.MethodAPIKey}
	args := `{"amount":1}`
	approved := approval.Approval{ID: "apr_1", Tool: "wire", Arguments: args, ArgsSHA256: approval.ArgsHash(args), Status: approval.StatusApproved,
		DecidedBy: approval.Requester{Subject: "sue", Method: "api_key"}}
	cases := []struct {
		name  string
		roles map[string][]string
		a     func(approval.Approval) approval.Approval
		allow bool
		rule  string
	}{
		{"approved and still permitted", map[string][]string{"agent": {"pay"}}, nil, true, "approved by api_key:sue"},
		{"permission revoked meanwhile", map[string][]string{"agent": {}}, nil, false, ""},
		{"denied", map[string][]string{"agent": {"pay"}}, func(a approval.Approval) approval.Approval { a.Status = approval.StatusDenied; return a }, false, "denied by"},
		{"expired", map[string][]string{"agent": {"pay"}}, func(a approval.Approval) approval.Approval { a.Status = approval.StatusExpired; return a }, false, "expired"},
		{"arguments changed after approval", map[string][]string{"agent": {"pay"}}, func(a approval.Approval) approval.Approval { a.Arguments = `{"amount":9}`; return a }, false, "apr_1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := &gate.Gate{Perms: authz.NewPermissions(c.roles, nil)}
			a := approved
			if c.a != nil {
				a = c.a(a)
			}
			d := g.Recheck(context.Background(), gate.Input{Door: gate.DoorPassthrough, Principal: p, Declared: declared, Call: llm.ToolCall{ID: "c1", Name: "wire"}}, a)
			if d.Allowed() != c.allow || d.Event.Type != audit.TypeToolDecided || !strings.Contains(d.Event.Rule, c.rule) {
				t.Fatalf("allowed %v, event %s, rule %q", d.Allowed(), d.Event.Type, d.Event.Rule)
			}
		})
	}
}

func TestExecute_RunsOnlyAllowedCallsAndSurvivesPanicsAndTimeouts(t *testing.T) {
	perms := authz.NewPermissions(map[string][]string{"agent": {"read"}}, nil)
	g, x := &gate.Gate{Perms: perms}, &gate.Executor{}
	p := &principal.Principal{Subject: "alice", Roles: []string{"agent"}}
	decide := func(tl *gate.Tool) gate.Decision {
		m := map[string]*gate.Tool{"read": tl}
		return g.Decide(context.Background(), gate.Input{Door: gate.DoorAgent, Principal: p, Declared: m, Offered: m, Call: llm.ToolCall{ID: "c", Name: "read", Arguments: `{}`}})
	}
	t.Run("a refusal never runs", func(t *testing.T) {
		tl := tool("read", "admin", "", nil)
		out := x.Execute(context.Background(), gate.Run{Decision: decide(tl), Principal: p})
		if out.Err != gate.ErrNotAllowed || tl.Impl.(*fakeTool).calls.Load() != 0 {
			t.Fatalf("= %+v", out)
		}
	})
	t.Run("a panic is a tool error", func(t *testing.T) {
		tl := tool("read", "read", "", nil)
		tl.Impl.(*fakeTool).run = func(context.Context) (any, error) { panic("boom secret") }
		out := x.Execute(context.Background(), gate.Run{Decision: decide(tl), Principal: p})
		if out.Status != "error" || strings.Contains(out.Content, "secret") || out.Finished.Type != audit.TypeToolFinished || out.Finished.Outcome != "error" {
			t.Fatalf("= %+v", out)
		}
	})
	t.Run("a timeout is reported as one", func(t *testing.T) {
		tl := tool("read", "read", "", nil)
		tl.Impl.(*fakeTool).run = func(ctx context.Context) (any, error) { <-ctx.Done(); return nil, ctx.Err() }
		out := x.Execute(context.Background(), gate.Run{Decision: decide(tl), Principal: p, Timeout: time.Millisecond})
		if !out.TimedOut || out.Finished.Reason != "the tool timed out" {
			t.Fatalf("= %+v", out)
		}
	})
	t.Run("the caller is in the tool's context", func(t *testing.T) {
		tl := tool("read", "read", "", nil)
		var seen *principal.Principal
		tl.Impl.(*fakeTool).run = func(ctx context.Context) (any, error) { seen = principal.From(ctx); return 1, nil }
		if out := x.Execute(context.Background(), gate.Run{Decision: decide(tl), Principal: p}); out.Status != "ok" || seen != p {
			t.Fatalf("= %+v, principal %v", out, seen)
		}
	})
}
