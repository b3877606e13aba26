package policytest

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehousehq/gatehouse/internal/authz"
	"github.com/gatehousehq/gatehouse/internal/authz/condition"
	"github.com/gatehousehq/gatehouse/internal/gate"
	"github.com/gatehousehq/gatehouse/internal/principal"
	"github.com/gatehousehq/gatehouse/internal/tools"
	"github.com/gatehousehq/gatehouse/internal/tools/schema"
)

// testPolicy is a small policy built the way app builds tools: a schema's
// decoder, a compiled condition, an approval rule.
func testPolicy(t *testing.T, roles map[string][]string, defs map[string]toolDef) Policy {
	t.Helper()
	ts := map[string]*gate.Tool{}
	for name, d := range defs {
		params := json.RawMessage(d.params)
		sch, err := schema.Compile(params)
		if err != nil {
			t.Fatal(err)
		}
		pol := authz.ToolPolicy{Tool: name, Permission: d.perm, Source: d.cond}
		if d.cond != "" {
			pol.Condition = compiled(t, name, d.cond)
		}
		if d.approvalWhen != "" {
			pol.Approval = &authz.ApprovalRule{When: compiled(t, name, d.approvalWhen), WhenSource: d.approvalWhen, Approvers: []string{"boss"}, TTL: time.Minute}
		}
		ts[name] = &gate.Tool{Impl: tools.NewClient(tools.Spec{Name: name, Parameters: params}), Policy: pol, Decode: sch.Decode}
	}
	return Policy{Gate: &gate.Gate{Perms: authz.NewPermissions(roles, nil)}, Tools: ts}
}

type toolDef struct{ perm, params, cond, approvalWhen string }

func compiled(t *testing.T, tool, expr string) authz.Condition {
	c, err := condition.Compile(expr)
	if err != nil {
		t.Fatal(err)
	}
	return func(ctx context.Context, p *principal.Principal, args map[string]any) (bool, error) {
		return c.Eval(ctx, p, condition.ToolInfo{Name: tool}, args)
	}
}

func loadSuite(t *testing.T, pol Policy, body string) *Suite {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := LoadSuite(path, pol)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestRun_NowFixesTheTimeConditionsSee: office hours decided at the
// suite's now, or a case's own.
func TestRun_NowFixesTheTimeConditionsSee(t *testing.T) {
	pol := testPolicy(t, map[string][]string{"clerk": {"pay"}}, map[string]toolDef{
		"pay": {perm: "pay", params: `{"type":"object","properties":{"amount":{"type":"number"}}}`,
			cond: `now.getHours("UTC") >= 9 && now.getHours("UTC") < 17`, approvalWhen: `args.amount > 1000`},
	})
	s := loadSuite(t, pol, `
now: 2026-03-02T10:00:00Z
principals: {clerk: {roles: [clerk]}}
cases:
  - {name: in hours, as: clerk, tool: pay, args: {amount: 5}, expect: allow}
  - {name: at night, as: clerk, tool: pay, args: {amount: 5}, expect: deny, now: 2026-03-02T22:00:00Z}
  - {name: large, as: clerk, tool: pay, args: {amount: 5000}, expect: approval}
`)
	rep, err := Run(context.Background(), pol, []*Suite{s}, Options{Now: time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rep.Results {
		got = append(got, r.Name+": "+r.Got)
	}
	want := []string{"in hours: allow", "at night: deny", "large: approval"}
	if diff := cmp.Diff(want, got); diff != "" || rep.Failed() != 0 {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	if rep.Coverage.Percent() != 100 {
		t.Errorf("coverage %s, missing %q", rep.Coverage.Line(), rep.Coverage.Missing())
	}
}

// TestRun_MatrixAndCoverageMissing: a matrix of roles × tools, and the
// coverage names each thing no case exercised.
func TestRun_MatrixAndCoverageMissing(t *testing.T) {
	pol := testPolicy(t, map[string][]string{"a": {"x"}, "b": {"x", "y"}}, map[string]toolDef{
		"tx": {perm: "x", params: `{"type":"object"}`},
		"ty": {perm: "y", params: `{"type":"object","properties":{"n":{"type":"integer"}}}`, cond: `args.n < 3`},
		"tz": {perm: "z", params: `{"type":"object"}`},
	})
	s := loadSuite(t, pol, `
matrix:
  - tools: [tx, ty]
    roles:
      a: [offered, hidden]
      b: [offered, offered]
  - phase: call
    tools: [ty]
    args: {ty: {n: 1}}
    roles: {b: [allow], a: [allow]}
`)
	rep, err := Run(context.Background(), pol, []*Suite{s}, Options{Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, r := range rep.Results {
		if !r.Pass {
			failed = append(failed, r.Name+": "+r.Got+" by "+r.Rule)
		}
	}
	if diff := cmp.Diff([]string{"matrix[1]/a/ty: deny by tool not offered"}, failed); diff != "" {
		t.Errorf("failures (-want +got):\n%s", diff)
	}
	wantMissing := []string{`tool tz: no case`, `tools.ty.condition 'args.n < 3': never seen false`}
	if diff := cmp.Diff(wantMissing, rep.Coverage.Missing()); diff != "" {
		t.Errorf("missing (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(rep.Coverage.Line(), "coverage 75.0%: tools 2/3, role and scope grants 3/3, condition outcomes 1/2") {
		t.Errorf("coverage line %q", rep.Coverage.Line())
	}
}

// TestRun_ActorChainHoldsBothSidesGrants: a delegated case holds what the
// subject's and every actor's roles grant, and conditions see the chain.
func TestRun_ActorChainHoldsBothSidesGrants(t *testing.T) {
	pol := testPolicy(t, map[string][]string{"admin": {"read", "write"}, "bot": {"read"}}, map[string]toolDef{
		"read":  {perm: "read", params: `{"type":"object"}`},
		"write": {perm: "write", params: `{"type":"object"}`},
		"note":  {perm: "read", params: `{"type":"object"}`, cond: `principal.actor.size() == 0`},
	})
	s := loadSuite(t, pol, `
principals:
  alice: {roles: [admin]}
  alice-via-bot: {roles: [admin], actor: [{subject: support-bot, roles: [bot]}]}
cases:
  - {name: alice writes, as: alice, tool: write, expect: allow}
  - {name: the bot may read for alice, as: alice-via-bot, tool: read, expect: allow, rule: "actor support-bot"}
  - {name: the bot may not write for alice, as: alice-via-bot, tool: write, expect: deny, rule: "tool not offered"}
  - {name: a condition sees the chain, as: alice-via-bot, tool: note, expect: deny}
  - {name: and its absence, as: alice, tool: note, expect: allow}
`)
	rep, err := Run(context.Background(), pol, []*Suite{s}, Options{Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if !r.Pass {
			t.Errorf("%s: got %s, want %s; rule %q, want it to hold %q", r.Name, r.Got, r.Expect, r.Rule, r.WantRule)
		}
	}
	if rep.Failed() != 0 {
		t.Errorf("%d cases failed", rep.Failed())
	}
	if _, err := LoadSuite(writeFile(t, "principals: {x: {roles: [admin], actor: [{roles: [bot]}]}}\ncases: [{name: c, as: x, tool: read, expect: allow}]\n"), pol); err == nil || !strings.Contains(err.Error(), "subject or client_id") {
		t.Errorf("an actor naming nobody: %v", err)
	}
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
