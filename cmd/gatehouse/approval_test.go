package main

import (
	"bufio"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// startDevAt is `gatehouse serve --dev` on dir (kept across restarts), with the demo users' keys.
func startDevAt(t *testing.T, dir string) *gateway {
	t.Helper()
	g := &gateway{t: t, dir: dir, keys: map[string]string{}, stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	g.serve([]string{"serve", "--dev", "--data-dir", dir, "--addr", "127.0.0.1:0"}, func(string) string { return "" })
	f, err := os.Open(filepath.Join(dir, "dev-credentials.env"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && !strings.HasPrefix(k, "#") {
			g.keys[strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(k, "GATEHOUSE_"), "_KEY"))] = v
		}
	}
	return g
}

// policyField reads a demo policy's field straight from the demo database.
func policyField(t *testing.T, dir, id, field string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "demo.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v string
	if err := db.QueryRow(`SELECT CAST(`+field+` AS TEXT) FROM policies WHERE id = ?`, id).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// approvalsOf returns the approvals of a 202 or list body.
func approvalsOf(t *testing.T, r response) []map[string]any {
	t.Helper()
	raw, _ := r.body["approvals"].([]any)
	var out []map[string]any
	for _, a := range raw {
		out = append(out, a.(map[string]any))
	}
	return out
}

// waitRun polls GET /v1/runs/{id} as user until the run is completed or failed.
func waitRun(t *testing.T, g *gateway, user, runID string) response {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		r := g.do("GET", "/v1/runs/"+runID, user, nil)
		if r.status != 200 {
			t.Fatalf("GET /v1/runs: %d %s", r.status, r.raw)
		}
		if s := r.str("status"); s == "completed" || s == "failed" {
			return r
		}
	}
	t.Fatalf("run %s did not finish", runID)
	return response{}
}

// auditEvents returns the run's audit events of one type.
func auditEvents(t *testing.T, g *gateway, runID, typ string) []map[string]any {
	t.Helper()
	r := g.do("GET", "/admin/audit?limit=500&type="+url.QueryEscape(typ), "admin", nil)
	if r.status != 200 {
		t.Fatalf("audit: %d %s", r.status, r.raw)
	}
	var out []map[string]any
	for _, e := range r.body["events"].([]any) {
		ev := e.(map[string]any)
		if ev["run_id"] == runID {
			out = append(out, ev)
		}
	}
	return out
}

const lapseMessage = "Set the status of policy POL-500 to lapsed"

// requestLapse asks, as admin, for the policy change and expects 202.
func requestLapse(t *testing.T, g *gateway) (runID string, apr map[string]any) {
	t.Helper()
	r := g.do("POST", "/v1/chat", "admin", map[string]string{"message": lapseMessage})
	if r.status != 202 || r.str("status") != "awaiting_approval" || r.str("run_id") == "" || r.str("session_id") == "" {
		t.Fatalf("POST /v1/chat = %d %s, want 202 awaiting_approval", r.status, r.raw)
	}
	as := approvalsOf(t, r)
	if len(as) != 1 {
		t.Fatalf("approvals = %v", as)
	}
	return r.str("run_id"), as[0]
}

func TestApproval_DevFlowRefusalsThenApprovalChangesTheDB(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	g := startDevAt(t, dir)
	if !strings.Contains(g.stdout.String(), "/v1/approvals") || g.keys["supervisor"] == "" {
		t.Fatalf("the walk-through does not show approval, or no supervisor key:\n%s", g.stdout.String())
	}
	before := policyField(t, dir, "POL-500", "status")
	runID, apr := requestLapse(t, g)
	id, args, hash := apr["id"].(string), apr["arguments"].(string), apr["args_sha256"].(string)
	if apr["tool"] != "policy_update" || hash != sha256Hex(args) || !strings.Contains(args, `"value":"lapsed"`) {
		t.Fatalf("approval = %v", apr)
	}
	if rb, _ := apr["requested_by"].(map[string]any); rb["subject"] != "admin" || apr["expires_at"] == nil {
		t.Errorf("approval = %v", apr)
	}
	if got := policyField(t, dir, "POL-500", "status"); got != before {
		t.Fatalf("the policy changed before approval: %s", got)
	}
	if r := g.do("GET", "/v1/runs/"+runID, "admin", nil); r.status != 200 || r.str("status") != "awaiting_approval" {
		t.Fatalf("GET run = %d %s", r.status, r.raw)
	}
	if r := g.do("GET", "/v1/runs/"+runID, "agent", nil); r.status != 404 {
		t.Errorf("another subject's run = %d, want 404", r.status)
	}
	if r := g.do("GET", "/v1/approvals", "agent", nil); r.status != 200 || len(approvalsOf(t, r)) != 0 {
		t.Errorf("a non-approver's list = %d %s, want empty", r.status, r.raw)
	}
	list := g.do("GET", "/v1/approvals", "supervisor", nil)
	if as := approvalsOf(t, list); list.status != 200 || len(as) != 1 || as[0]["id"] != id || as[0]["arguments"] != args {
		t.Fatalf("supervisor's list = %d %s", list.status, list.raw)
	}

	other := strings.Replace(args, "lapsed", "cancelled", 1)
	refusals := []struct {
		name, user string
		body       map[string]string
		status     int
		code       string
	}{
		{"SelfApproval", "admin", map[string]string{"decision": "approve", "args_sha256": hash}, 403, "self_approval"},
		{"NoApproverRole", "agent", map[string]string{"decision": "approve", "args_sha256": hash}, 403, "not_an_approver"},
		{"OtherArguments", "supervisor", map[string]string{"decision": "approve", "args_sha256": sha256Hex(other)}, 409, "arguments_mismatch"},
		{"BadDecision", "supervisor", map[string]string{"decision": "maybe", "args_sha256": hash}, 400, "invalid_request"},
		{"NoHash", "supervisor", map[string]string{"decision": "approve"}, 400, "invalid_request"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			r := g.do("POST", "/v1/approvals/"+id, tc.user, tc.body)
			if r.status != tc.status || r.str("error") != tc.code {
				t.Errorf("= %d %s, want %d %s", r.status, r.raw, tc.status, tc.code)
			}
			if got := policyField(t, dir, "POL-500", "status"); got != before {
				t.Errorf("the policy changed: %s", got)
			}
			if r := g.do("GET", "/v1/runs/"+runID, "admin", nil); r.str("status") != "awaiting_approval" {
				t.Errorf("run = %s", r.raw)
			}
		})
	}
	if r := g.do("POST", "/v1/approvals/apr_00000000000000000000000000000000", "supervisor", map[string]string{"decision": "approve", "args_sha256": hash}); r.status != 404 {
		t.Errorf("unknown approval = %d", r.status)
	}

	r := g.do("POST", "/v1/approvals/"+id, "supervisor", map[string]string{"decision": "approve", "args_sha256": hash, "comment": "checked with the customer"})
	if r.status != 200 || r.str("status") != "approved" {
		t.Fatalf("approve = %d %s", r.status, r.raw)
	}
	done := waitRun(t, g, "admin", runID)
	if done.str("status") != "completed" || done.str("response") == "" {
		t.Fatalf("run = %s", done.raw)
	}
	if got := policyField(t, dir, "POL-500", "status"); got != "lapsed" {
		t.Fatalf("after approval the policy status is %q, want lapsed", got)
	}
	calls, _ := done.body["tool_calls"].([]any)
	if len(calls) != 1 || calls[0].(map[string]any)["status"] != "ok" || !strings.Contains(calls[0].(map[string]any)["rule"].(string), id) {
		t.Errorf("tool_calls = %v", calls)
	}
	if r := g.do("POST", "/v1/approvals/"+id, "supervisor", map[string]string{"decision": "deny", "args_sha256": hash}); r.status != 410 {
		t.Errorf("deciding again = %d %s, want 410", r.status, r.raw)
	}
	if s := g.do("GET", "/v1/sessions/"+done.str("session_id"), "admin", nil); s.status != 200 || !strings.Contains(s.raw, "lapsed") {
		t.Errorf("the session lacks the run: %d %s", s.status, s.raw)
	}

	// Audit: requested, decided (by whom), the tool's decision naming the approval.
	if evs := auditEvents(t, g, runID, "approval.requested"); len(evs) != 1 || !strings.Contains(evs[0]["reason"].(string), id) {
		t.Errorf("approval.requested = %v", evs)
	}
	decided := auditEvents(t, g, runID, "approval.decided")
	var approvedBy []string
	for _, e := range decided {
		if e["outcome"] == "approved" {
			approvedBy = append(approvedBy, e["subject"].(string))
		}
	}
	if len(approvedBy) != 1 || approvedBy[0] != "supervisor" || len(decided) < 4 {
		t.Errorf("approval.decided = %v", decided)
	}
	var allowNamed int
	for _, e := range auditEvents(t, g, runID, "tool.decided") {
		if e["decision"] == "allow" && strings.Contains(e["rule"].(string), "approval "+id+" approved by api_key:supervisor") {
			allowNamed++
		}
	}
	if allowNamed != 1 {
		t.Errorf("tool.decided naming the approval: %d", allowNamed)
	}
	if v := g.do("GET", "/admin/audit/verify", "admin", nil); v.status != 200 || v.body["ok"] != true {
		t.Errorf("verify = %d %s", v.status, v.raw)
	}
}

func TestApproval_DenialTellsTheModelAndNothingRuns(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	g := startDevAt(t, dir)
	runID, apr := requestLapse(t, g)
	r := g.do("POST", "/v1/approvals/"+apr["id"].(string), "supervisor", map[string]string{"decision": "deny", "args_sha256": apr["args_sha256"].(string), "comment": "no"})
	if r.status != 200 || r.str("status") != "denied" {
		t.Fatalf("deny = %d %s", r.status, r.raw)
	}
	done := waitRun(t, g, "admin", runID)
	calls, _ := done.body["tool_calls"].([]any)
	if done.str("status") != "completed" || len(calls) != 1 || calls[0].(map[string]any)["decision"] != "deny" {
		t.Fatalf("run = %s", done.raw)
	}
	if got := policyField(t, dir, "POL-500", "status"); got == "lapsed" {
		t.Fatal("a denied call ran")
	}
	if n := len(auditEvents(t, g, runID, "tool.finished")); n != 0 {
		t.Errorf("tool.finished events: %d", n)
	}
}

func TestApproval_SurvivesARestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	g := startDevAt(t, dir)
	runID, apr := requestLapse(t, g)
	if err := g.stop(); err != nil {
		t.Fatal(err)
	}
	g2 := startDevAt(t, dir)
	list := g2.do("GET", "/v1/approvals", "supervisor", nil)
	if as := approvalsOf(t, list); len(as) != 1 || as[0]["id"] != apr["id"] {
		t.Fatalf("after restart: %s", list.raw)
	}
	if r := g2.do("POST", "/v1/approvals/"+apr["id"].(string), "supervisor", map[string]string{"decision": "approve", "args_sha256": apr["args_sha256"].(string)}); r.status != 200 {
		t.Fatalf("approve = %d %s", r.status, r.raw)
	}
	if done := waitRun(t, g2, "admin", runID); done.str("status") != "completed" {
		t.Fatalf("run = %s", done.raw)
	}
	if got := policyField(t, dir, "POL-500", "status"); got != "lapsed" {
		t.Fatalf("status = %s", got)
	}
}

func TestApproval_ExpiryIsGoneAndTheModelIsTold(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	g := startDevAt(t, dir)
	if err := g.stop(); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "gatehouse.yaml")
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	short := strings.Replace(string(b), "approval: {approvers: [supervisor], ttl: 30m}", "approval: {approvers: [supervisor], ttl: 1s}", 1)
	if short == string(b) {
		t.Fatal("the dev config has no policy_update approval to shorten")
	}
	if err := os.WriteFile(cfg, []byte(short), 0o600); err != nil {
		t.Fatal(err)
	}
	g = startDevAt(t, dir)
	runID, apr := requestLapse(t, g)
	// No fixed wait: the sweep expires the approval once its second is up
	// and the run then completes, telling the model.
	done := waitRun(t, g, "admin", runID)
	if r := g.do("POST", "/v1/approvals/"+apr["id"].(string), "supervisor", map[string]string{"decision": "approve", "args_sha256": apr["args_sha256"].(string)}); r.status != 410 {
		t.Fatalf("approving an expired call = %d %s, want 410", r.status, r.raw)
	}
	calls, _ := done.body["tool_calls"].([]any)
	if done.str("status") != "completed" || len(calls) != 1 || !strings.Contains(calls[0].(map[string]any)["rule"].(string), "expired") {
		t.Fatalf("run = %s", done.raw)
	}
	if got := policyField(t, dir, "POL-500", "status"); got == "lapsed" {
		t.Fatal("an expired call ran")
	}
}

func TestApproval_ConcurrentApprovalsRunTheToolOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	g := startDevAt(t, dir)
	runID, apr := requestLapse(t, g)
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := g.do("POST", "/v1/approvals/"+apr["id"].(string), "supervisor", map[string]string{"decision": "approve", "args_sha256": apr["args_sha256"].(string)})
			mu.Lock()
			statuses[r.status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if statuses[200] != 1 || statuses[410] != 7 {
		t.Fatalf("statuses = %v, want one 200 and seven 410", statuses)
	}
	if done := waitRun(t, g, "admin", runID); done.str("status") != "completed" {
		t.Fatalf("run = %s", done.raw)
	}
	time.Sleep(1500 * time.Millisecond) // a sweep or two: nothing resumes the run again
	if n := len(auditEvents(t, g, runID, "tool.finished")); n != 1 {
		t.Errorf("the tool finished %d times, want 1", n)
	}
	if n := len(auditEvents(t, g, runID, "run.resumed")); n != 1 {
		t.Errorf("the run resumed %d times, want 1", n)
	}
}

// The arguments that run are the stored ones the approver saw; if the
// stored arguments are changed behind the approval's back, the hash checked
// before execution refuses them.
func TestApproval_ArgumentsChangedAfterApprovalNeverRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	g := startDevAt(t, dir)
	runID, apr := requestLapse(t, g)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "sessions.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	other := strings.Replace(apr["arguments"].(string), "lapsed", "cancelled", 1)
	if res, err := db.Exec(`UPDATE approvals SET arguments = ? WHERE id = ?`, other, apr["id"]); err != nil {
		t.Fatal(err)
	} else if n, _ := res.RowsAffected(); n != 1 {
		t.Fatal("no approval row updated")
	}
	if r := g.do("POST", "/v1/approvals/"+apr["id"].(string), "supervisor", map[string]string{"decision": "approve", "args_sha256": sha256Hex(other)}); r.status != 409 {
		t.Fatalf("approving the changed arguments' hash = %d %s, want 409", r.status, r.raw)
	}
	if r := g.do("POST", "/v1/approvals/"+apr["id"].(string), "supervisor", map[string]string{"decision": "approve", "args_sha256": apr["args_sha256"].(string)}); r.status != 200 {
		t.Fatalf("approve = %d %s", r.status, r.raw)
	}
	done := waitRun(t, g, "admin", runID)
	calls, _ := done.body["tool_calls"].([]any)
	if len(calls) != 1 || calls[0].(map[string]any)["decision"] != "deny" {
		t.Fatalf("run = %s", done.raw)
	}
	for _, v := range []string{"lapsed", "cancelled"} {
		if got := policyField(t, dir, "POL-500", "status"); got == v {
			t.Fatalf("the policy became %s", got)
		}
	}
}

func TestApproval_StreamAndChatCompletionsSayTheRunAwaits(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	g := startDevAt(t, dir)
	r := g.do("POST", "/v1/chat/completions", "admin", map[string]any{"model": "support_agent",
		"messages": []map[string]string{{"role": "user", "content": lapseMessage}}})
	if r.status != 200 {
		t.Fatalf("completions = %d %s", r.status, r.raw)
	}
	gh, _ := r.body["gatehouse"].(map[string]any)
	choices, _ := r.body["choices"].([]any)
	msg := choices[0].(map[string]any)["message"].(map[string]any)
	as, _ := gh["approvals"].([]any)
	if gh["status"] != "awaiting_approval" || gh["run_id"] == "" || len(as) != 1 || !strings.Contains(msg["content"].(string), "awaits human approval") {
		t.Fatalf("completion = %s", r.raw)
	}
	runID := gh["run_id"].(string)
	a := as[0].(map[string]any)
	if !strings.Contains(msg["content"].(string), a["id"].(string)) {
		t.Errorf("the message does not name the approval: %s", msg["content"])
	}
	if r := g.do("POST", "/v1/approvals/"+a["id"].(string), "supervisor", map[string]string{"decision": "approve", "args_sha256": a["args_sha256"].(string)}); r.status != 200 {
		t.Fatalf("approve = %d %s", r.status, r.raw)
	}
	if done := waitRun(t, g, "admin", runID); done.str("status") != "completed" {
		t.Fatalf("run = %s", done.raw)
	}

	cs := g.do("POST", "/v1/chat/completions", "admin", map[string]any{"model": "support_agent", "stream": true,
		"messages": []map[string]string{{"role": "user", "content": "Set the status of policy POL-501 to lapsed"}}})
	if cs.status != 200 || !strings.Contains(cs.raw, "awaits human approval") || !strings.Contains(cs.raw, `"status":"awaiting_approval"`) || !strings.Contains(cs.raw, "data: [DONE]") {
		t.Fatalf("streamed completion = %d %s", cs.status, cs.raw)
	}
	if got := policyField(t, dir, "POL-501", "status"); got == "lapsed" {
		t.Fatal("a held call ran")
	}

	s := g.do("POST", "/v1/chat", "admin", map[string]any{"message": "Set the premium of policy POL-500 to 99", "stream": true})
	if s.status != 200 || !strings.Contains(s.raw, "event: approval.requested") || !strings.Contains(s.raw, `"status":"awaiting_approval"`) || strings.Contains(s.raw, "event: run.finished") {
		t.Fatalf("stream = %d %s", s.status, s.raw)
	}
	var last string
	for _, line := range strings.Split(s.raw, "\n") {
		if strings.HasPrefix(line, "data: ") {
			last = strings.TrimPrefix(line, "data: ")
		}
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(last), &body); err != nil || body["run_id"] == "" || body["session_id"] == "" {
		t.Fatalf("approval.requested data = %s (%v)", last, err)
	}
	// The run's event stream follows it to its end.
	runID = body["run_id"].(string)
	a = body["approvals"].([]any)[0].(map[string]any)
	if r := g.do("POST", "/v1/approvals/"+a["id"].(string), "supervisor", map[string]string{"decision": "approve", "args_sha256": a["args_sha256"].(string)}); r.status != 200 {
		t.Fatalf("approve = %d %s", r.status, r.raw)
	}
	req, err := http.NewRequest("GET", g.base+"/v1/runs/"+runID, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+g.keys["admin"])
	req.Header.Set("Accept", "text/event-stream")
	ev := g.send(req)
	if ev.status != 200 || !strings.Contains(ev.raw, "event: run.status") || !strings.Contains(ev.raw, `"status":"completed"`) {
		t.Fatalf("run events = %d %s", ev.status, ev.raw)
	}
	if got := policyField(t, dir, "POL-500", "premium"); got != "99" && got != "99.0" && got != "99.00" {
		t.Errorf("premium = %s", got)
	}
}

// A replica that claimed a run, marked its approved call and died before
// finishing (simulated in the shared store while no gatehouse runs): the
// next gatehouse reports the run failed once its lease has passed, and
// never runs the call again.
func TestApproval_ReplicaKilledMidResumeRunsAtMostOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	g := startDevAt(t, dir)
	runID, apr := requestLapse(t, g)
	if err := g.stop(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "sessions.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	past := time.Now().Add(-time.Minute).UnixNano()
	if _, err := db.Exec(`UPDATE approvals SET status = 'approved', decided_by = '{"subject":"supervisor","method":"api_key"}', decided_ns = ?, executed = 1 WHERE id = ?`, past, apr["id"]); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE paused_runs SET status = 'running', lease_until_ns = ? WHERE id = ?`, past, runID); err != nil {
		t.Fatal(err)
	}
	db.Close()
	g = startDevAt(t, dir)
	done := waitRun(t, g, "admin", runID)
	if done.str("status") != "failed" || !strings.Contains(done.str("error"), "not run again") {
		t.Fatalf("run = %s", done.raw)
	}
	time.Sleep(1500 * time.Millisecond) // sweeps: nothing resumes it
	if r := g.do("GET", "/v1/runs/"+runID, "admin", nil); r.str("status") != "failed" {
		t.Errorf("run = %s", r.raw)
	}
	if n := len(auditEvents(t, g, runID, "run.resumed")); n != 0 {
		t.Errorf("the dead replica's run was resumed %d times", n)
	}
	if got := policyField(t, dir, "POL-500", "status"); got == "lapsed" {
		t.Error("the call ran again")
	}
}
