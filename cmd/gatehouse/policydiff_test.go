package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehousehq/gatehouse/internal/policytest"
)

// replayCall is one tool call a test run makes, and what the gate decided.
type replayCall struct {
	user, tool, args string
	decision         string // as the run's answer reports it
}

// The calls the replay tests make, with the decisions the test config gives.
var replayCalls = []replayCall{
	{"customer", "payments_lookup", `{"customer_id":"C-100"}`, "allow"},
	{"customer", "payments_lookup", `{"customer_id":"C-200"}`, "deny"},
	{"agent", "claims_status", `{"claim_id":"CLM-1001"}`, "allow"},
	{"admin", "claims_status", `{"claim_id":"CLM-1001"}`, "allow"},
	{"admin", "payments_lookup", `{"customer_id":"C-200"}`, "allow"},
	{"agent", "payments_lookup", `{"customer_id":"C-100"}`, "deny"},
	{"customer", "claims_status", `{"claim_id":"CLM-1001"}`, "allow"},
}

// runReplayCalls makes replayCalls through /v1/chat, checking each run
// decided as expected.
func runReplayCalls(t *testing.T, g *gateway) {
	t.Helper()
	for _, c := range replayCalls {
		r := g.do("POST", "/v1/chat", c.user, map[string]string{"message": "CALL " + c.tool + " " + c.args})
		calls := toolCalls(t, r)
		if r.status != 200 || len(calls) != 1 || calls[0]["decision"] != c.decision {
			t.Fatalf("%s %s %s: %d %s; want %s", c.user, c.tool, c.args, r.status, r.raw, c.decision)
		}
	}
}

// newPolicy is the proposed config: the agent loses claims.read (a grant
// removed), and payments_lookup loses the admin's exception (a condition
// tightened).
func newPolicy(old string) string {
	s := strings.Replace(old, "agent: [read, respond, claims.read]", "agent: [read, respond]", 1)
	return strings.Replace(s, `condition: 'args.customer_id == principal.claims.customer_id || "admin" in principal.roles'`,
		`condition: 'args.customer_id == principal.claims.customer_id'`, 1)
}

// writeNext writes newPolicy of g's config beside it.
func writeNext(t *testing.T, g *gateway) string {
	t.Helper()
	next := filepath.Join(g.dir, "next.yaml")
	if err := os.WriteFile(next, []byte(newPolicy(mustRead(t, g.cfgPath))), 0o600); err != nil {
		t.Fatal(err)
	}
	return next
}

func policyDiff(t *testing.T, g *gateway, args ...string) *policytest.Diff {
	t.Helper()
	var out, errb syncBuffer
	err := run(context.Background(), append([]string{"policy", "diff", "--json"}, args...), func(k string) string { return g.env[k] }, nil, &out, &errb)
	if err != nil {
		t.Fatalf("policy diff: %v\n%s", err, errb.String())
	}
	var d policytest.Diff
	if err := json.Unmarshal([]byte(out.String()), &d); err != nil {
		t.Fatalf("report: %v\n%s", err, out.String())
	}
	return &d
}

// flip is a changed decision as the test compares it.
type flip struct{ tool, subject, from, to string }

func flips(d *policytest.Diff) []flip {
	var out []flip
	for _, g := range d.Replay.Changes {
		if len(g.Examples) != g.Count {
			panic("more flips than examples")
		}
		for _, ex := range g.Examples {
			out = append(out, flip{g.Tool, ex.Subject, g.From, g.To})
		}
	}
	slices.SortFunc(out, func(a, b flip) int { return strings.Compare(a.tool+a.subject, b.tool+b.subject) })
	return out
}

// TestPolicyDiff_ReplaysRecordedDecisions: a log made by real runs under
// audit.content full, a new config that removes a grant and tightens a
// condition; the report lists exactly the decisions that flip, and decides
// the others again to the verdict the runs got (the customer's own
// payments with the claim recorded with the decision).
func TestPolicyDiff_ReplaysRecordedDecisions(t *testing.T) {
	g := startGateway(t, gwOptions{script: callScript, config: func(g *gateway) string {
		return strings.Replace(g.renderConfig(allUsers, gwOptions{}), "content: hmac", "content: full", 1)
	}})
	runReplayCalls(t, g)
	next := writeNext(t, g)

	d := policyDiff(t, g, "--from", g.cfgPath, "--to", next)
	wantCells := []policytest.CellChange{{Role: "agent", Tool: "claims_status", From: "allowed", To: "denied"}}
	if diff := cmp.Diff(wantCells, d.Cells); diff != "" {
		t.Errorf("cells (-want +got):\n%s", diff)
	}
	wantConds := []policytest.ConditionChange{{Key: "tools.payments_lookup.condition",
		From: `args.customer_id == principal.claims.customer_id || "admin" in principal.roles`, To: "args.customer_id == principal.claims.customer_id"}}
	if diff := cmp.Diff(wantConds, d.Conditions); diff != "" {
		t.Errorf("conditions (-want +got):\n%s", diff)
	}
	r := d.Replay
	if r.Decisions != len(replayCalls) || r.Replayed != len(replayCalls) || r.Changed != 2 || len(r.NotReplayed) != 0 {
		t.Errorf("replay: %d decisions, %d replayed, %d changed, not replayed %v; want %d, %d, 2, none",
			r.Decisions, r.Replayed, r.Changed, r.NotReplayed, len(replayCalls), len(replayCalls))
	}
	// Exactly the runs' decisions the change flips: the agent's claim (its
	// grant removed) and the admin's look at another customer's payments
	// (the exception removed).
	want := []flip{{"claims_status", "agent", "allow", "deny"}, {"payments_lookup", "admin", "allow", "deny"}}
	if diff := cmp.Diff(want, flips(d), cmp.AllowUnexported(flip{})); diff != "" {
		t.Errorf("flips (-want +got):\n%s", diff)
	}
	for _, grp := range r.Changes {
		if grp.Tool == "payments_lookup" && !strings.HasPrefix(grp.Examples[0].ToRule, "condition of payments_lookup") {
			t.Errorf("payments flip decided by %q", grp.Examples[0].ToRule)
		}
	}

	// The same policy replayed: nothing flips, so every recorded verdict
	// was decided again to what the run got.
	same := policyDiff(t, g, "--from", g.cfgPath, "--to", g.cfgPath)
	if same.Replay.Replayed != len(replayCalls) || same.Replay.Changed != 0 || len(same.Cells) != 0 {
		t.Errorf("replay under the same policy: %+v", same.Replay)
	}
}

// TestPolicyDiff_HMACContentIsReportedNotGuessed: under audit.content hmac
// the arguments cannot be read back. A call the new policy no longer
// offers is still decided (the gate refuses it before looking at
// arguments); one it would judge by its arguments is counted as not
// replayed, with the reason.
func TestPolicyDiff_HMACContentIsReportedNotGuessed(t *testing.T) {
	g := startGateway(t, gwOptions{script: callScript})
	runReplayCalls(t, g)
	next := writeNext(t, g)
	d := policyDiff(t, g, "--from", g.cfgPath, "--to", next, "--since", "1h")
	if diff := cmp.Diff([]flip{{"claims_status", "agent", "allow", "deny"}}, flips(d), cmp.AllowUnexported(flip{})); diff != "" {
		t.Errorf("flips (-want +got):\n%s", diff)
	}
	// Decided again: the agent's two calls (claims_status no longer
	// offered, payments_lookup never). Not: the five the new policy would
	// judge by their arguments.
	want := []policytest.Skipped{{Reason: "the arguments are not recorded in clear (audit.content: hmac or none), and the new policy offers the tool to the caller", Count: 5}}
	if d.Replay.Replayed != 2 || !cmp.Equal(want, d.Replay.NotReplayed) {
		t.Errorf("replayed %d, not replayed %+v", d.Replay.Replayed, d.Replay.NotReplayed)
	}
}

// TestReloadDryRun_ReportsTheDiffWithoutApplying: POST
// /admin/reload?dry_run=true answers the report policy diff gives for the
// file on disk against the running policy, and applies nothing.
func TestReloadDryRun_ReportsTheDiffWithoutApplying(t *testing.T) {
	g := startGateway(t, gwOptions{script: callScript, config: func(g *gateway) string {
		return strings.Replace(g.renderConfig(allUsers, gwOptions{}), "content: hmac", "content: full", 1)
	}})
	runReplayCalls(t, g)
	running := mustRead(t, g.cfgPath)
	cli := policyDiff(t, g, "--from", g.cfgPath, "--to", writeNext(t, g))
	g.writeConfig(newPolicy(running))

	r := g.do("POST", "/admin/reload?dry_run=true&since=1h", "admin", nil)
	if r.status != 200 || r.body["dry_run"] != true || r.body["version"] != float64(1) {
		t.Fatalf("dry run: %d %s", r.status, r.raw)
	}
	b, _ := json.Marshal(r.body["report"])
	var d policytest.Diff
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(cli.Cells, d.Cells); diff != "" {
		t.Errorf("cells differ from policy diff's (-cli +dry run):\n%s", diff)
	}
	if diff := cmp.Diff(cli.Conditions, d.Conditions); diff != "" {
		t.Errorf("conditions differ from policy diff's (-cli +dry run):\n%s", diff)
	}
	if diff := cmp.Diff(flips(cli), flips(&d), cmp.AllowUnexported(flip{})); diff != "" || d.Replay.Replayed != len(replayCalls) {
		t.Errorf("flips differ from policy diff's (-cli +dry run):\n%s (replayed %d)", diff, d.Replay.Replayed)
	}
	// Nothing was applied: the agent still reads claims.
	c := g.do("POST", "/v1/chat", "agent", map[string]string{"message": `CALL claims_status {"claim_id":"CLM-1001"}`})
	if calls := toolCalls(t, c); len(calls) != 1 || calls[0]["decision"] != "allow" {
		t.Fatalf("after the dry run: %d %s", c.status, c.raw)
	}
	for _, bad := range []struct{ query, user, want string }{
		{"?dry_run=yes", "admin", "dry_run must be true or false"},
		{"?dry_run=true&since=forever", "admin", "since must be a positive duration"},
		{"?since=1h", "admin", "since is only for dry_run=true"},
	} {
		if r := g.do("POST", "/admin/reload"+bad.query, bad.user, nil); r.status != 400 || !strings.Contains(r.raw, bad.want) {
			t.Errorf("%s: %d %s", bad.query, r.status, r.raw)
		}
	}
	if r := g.do("POST", "/admin/reload?dry_run=true", "agent", nil); r.status != 403 {
		t.Errorf("dry run by a non-admin: %d", r.status)
	}
	g.writeConfig(strings.Replace(running, "args.customer_id ==", "args.customer_idd ==", 1))
	if r := g.do("POST", "/admin/reload?dry_run=true", "admin", nil); r.status != 400 || !strings.Contains(r.raw, "undefined field 'customer_idd'") {
		t.Errorf("dry run of an invalid config: %d %s", r.status, r.raw)
	}
	// The real reload then applies the change.
	g.writeConfig(newPolicy(running))
	if r := g.do("POST", "/admin/reload", "admin", nil); r.status != 200 {
		t.Fatalf("reload: %d %s", r.status, r.raw)
	}
	c = g.do("POST", "/v1/chat", "agent", map[string]string{"message": `CALL claims_status {"claim_id":"CLM-1001"}`})
	if calls := toolCalls(t, c); len(calls) != 1 || calls[0]["decision"] != "deny" {
		t.Fatalf("after the reload: %d %s", c.status, c.raw)
	}
}
