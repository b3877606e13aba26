package main

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/authn"
	"github.com/gatehousehq/gatehouse/internal/llm/llmtest"
	"github.com/gatehousehq/gatehouse/internal/store"
	"github.com/gatehousehq/gatehouse/internal/store/storetest"
)

// auditReader reads the audit log of a running gateway, next to it.
type auditReader struct {
	t  *testing.T
	st audit.Store
}

func sqliteAuditDSN(g *gateway) string { return "sqlite://" + g.dir + "/audit.db" }

func openAuditLog(t *testing.T, dsn string) *auditReader {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := store.OpenAudit(ctx, dsn)
	if err != nil {
		t.Fatalf("open audit log: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return &auditReader{t: t, st: st}
}

// all returns every event, in chain order.
func (a *auditReader) all() []audit.Event {
	a.t.Helper()
	return storetest.Events(a.t, a.st)
}

func (a *auditReader) forRequest(id string) []audit.Event {
	var out []audit.Event
	for _, e := range a.all() {
		if e.RequestID == id {
			out = append(out, e)
		}
	}
	return out
}

// trail returns how a request shows in the log, one step per event. A
// request's events are durable before its response, so they are read once;
// authentication failures are recorded asynchronously, so for them (async)
// the reader waits, bounded, for wantLen events.
func (a *auditReader) trail(id string, async bool, wantLen int) ([]string, []audit.Event) {
	evs := a.forRequest(id)
	for deadline := time.Now().Add(3 * time.Second); async && len(evs) < wantLen && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		evs = a.forRequest(id)
	}
	return steps(evs), evs
}

// step is an event as a trail shows it: its type, then "/decision" and
// " outcome" when it has them (tool.decided/deny, run.finished ok).
func step(e audit.Event) string {
	s := e.Type
	if e.Decision != "" {
		s += "/" + e.Decision
	}
	if e.Outcome != "" {
		s += " " + e.Outcome
	}
	return s
}

func steps(evs []audit.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, step(e))
	}
	return out
}

// assertNoSecrets fails when any event, as JSON, contains any of secrets.
func assertNoSecrets(t *testing.T, evs []audit.Event, secrets map[string]string) {
	t.Helper()
	if len(evs) == 0 {
		t.Fatal("no events to scan")
	}
	for _, e := range evs {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		for name, s := range secrets {
			if strings.Contains(string(b), s) {
				t.Errorf("%s appears in event %s/%d: %s", name, e.ChainID, e.Seq, b)
			}
		}
	}
}

// addIntruder gives g a well-formed API key that no config holds, under
// the user name "intruder".
func addIntruder(t *testing.T, g *gateway) {
	k, _, err := authn.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	g.keys["intruder"] = k
}

var (
	trailNothing  []string
	trailNoAuth   = []string{"auth.failed/deny"}
	trailRefused  = []string{"authz.decided/deny"}
	trailAllowed  = []string{"authz.decided/allow"}
	trailChat     = []string{"authz.decided/allow", "run.started", "run.finished ok"}
	trailNotOwner = []string{"authz.decided/allow", "session.denied/deny"}
)

// TestAudit_RoleMatrixRecordsExactTrail is TestEndpoints_RoleMatrix seen from
// the audit log: every endpoint as no key, an unknown key, viewer, agent and
// admin, with the exact events recorded under the response's request id.
func TestAudit_RoleMatrixRecordsExactTrail(t *testing.T) {
	g := startGateway(t, gwOptions{})
	addIntruder(t, g)
	log := openAuditLog(t, sqliteAuditDSN(g))
	own := g.do("POST", "/v1/chat", "agent", map[string]string{"message": "hello"})
	if own.status != 200 {
		t.Fatalf("setup: %d %s", own.status, own.raw)
	}
	sessID := own.str("session_id")
	sess := "/v1/sessions/" + sessID
	chat := map[string]string{"message": "hi"}
	type want struct{ none, intruder, viewer, agent, admin []string }
	cases := []struct {
		method, path, pattern string
		body                  any
		want                  want
	}{
		{"GET", "/health", "", nil, want{trailNothing, trailNothing, trailNothing, trailNothing, trailNothing}},
		{"GET", "/ready", "", nil, want{trailNothing, trailNothing, trailNothing, trailNothing, trailNothing}},
		{"POST", "/chat", "/chat", chat, want{trailNoAuth, trailNoAuth, trailRefused, trailChat, trailChat}},
		{"POST", "/v1/chat", "/v1/chat", chat, want{trailNoAuth, trailNoAuth, trailRefused, trailChat, trailChat}},
		{"GET", sess, "/v1/sessions/{id}", nil, want{trailNoAuth, trailNoAuth, trailNotOwner, trailAllowed, trailNotOwner}},
		{"POST", "/admin/reload", "/admin/reload", nil, want{trailNoAuth, trailNoAuth, trailRefused, trailRefused,
			[]string{"authz.decided/allow", "config.reloaded ok"}}},
		{"GET", "/admin/audit", "/admin/audit", nil, want{trailNoAuth, trailNoAuth, trailRefused, trailRefused, trailAllowed}},
		{"GET", "/admin/audit/verify", "/admin/audit/verify", nil, want{trailNoAuth, trailNoAuth, trailRefused, trailRefused, trailAllowed}},
	}
	for _, c := range cases {
		for _, u := range []struct {
			user string
			want []string
		}{{"", c.want.none}, {"intruder", c.want.intruder}, {"viewer", c.want.viewer}, {"agent", c.want.agent}, {"admin", c.want.admin}} {
			t.Run(fmt.Sprintf("%s %s as %q", c.method, c.path, u.user), func(t *testing.T) {
				r := g.do(c.method, c.path, u.user, c.body)
				id := r.header.Get("X-Request-Id")
				unauthenticated := u.user == "" || u.user == "intruder"
				got, evs := log.trail(id, unauthenticated, len(u.want))
				if diff := cmp.Diff(u.want, got); diff != "" {
					t.Fatalf("status %d; trail of request %s (-want +got):\n%s", r.status, id, diff)
				}
				for _, e := range evs {
					checkEventFields(t, e, u.user, c.method+" "+c.pattern, r, sessID)
				}
			})
		}
	}
	secrets := map[string]string{}
	for u, k := range g.keys {
		secrets["the API key of "+u] = k
	}
	assertNoSecrets(t, log.all(), secrets)
}

// checkEventFields checks what an event says about its request: who, how,
// on what, and the run and session it belongs to.
func checkEventFields(t *testing.T, e audit.Event, user, route string, r response, sessID string) {
	t.Helper()
	bad := func(field string, got any) { t.Errorf("%s: %s = %v", step(e), field, got) }
	if e.Type == audit.TypeAuthFailed {
		want := "invalid credentials"
		if user == "" {
			want = "missing bearer token"
		}
		if e.Reason != want {
			bad("reason", e.Reason)
		}
		if e.Resource != route { // the pattern: the path is the caller's to size
			bad("resource", e.Resource)
		}
		if e.Subject != "" || e.AuthMethod != "" || len(e.Roles) != 0 {
			bad("subject/auth_method/roles", fmt.Sprint(e.Subject, e.AuthMethod, e.Roles))
		}
		return
	}
	if e.Subject != user || e.AuthMethod != "api_key" || len(e.Roles) != 1 || e.Roles[0] != user {
		bad("subject/auth_method/roles", fmt.Sprint(e.Subject, " ", e.AuthMethod, " ", e.Roles))
	}
	switch e.Type {
	case audit.TypeAuthzDecided:
		if e.Resource != route {
			bad("resource", e.Resource)
		}
		if e.Rule == "" || (e.Decision == audit.Deny && e.Reason == "") {
			bad("rule/reason", e.Rule+" / "+e.Reason)
		}
	case audit.TypeRunStarted, audit.TypeRunFinished:
		if e.RunID == "" || e.RunID != r.str("run_id") || e.SessionID != r.str("session_id") {
			bad("run_id/session_id", e.RunID+" "+e.SessionID)
		}
		if e.Resource != "agent:support_agent" || e.Model == "" {
			bad("resource/model", e.Resource+" "+e.Model)
		}
		// run.finished names the model that answered; run.started names the
		// provider (agent.Runner has no model id before the first turn).
		if e.Type == audit.TypeRunFinished && e.Model != "test-model" {
			bad("model", e.Model)
		}
		if e.Type == audit.TypeRunFinished && (e.Usage == nil || e.Usage.TotalTokens == 0) {
			bad("usage", e.Usage)
		}
	case audit.TypeSessionDenied:
		if e.SessionID != sessID || e.Resource != "session:"+sessID {
			bad("session_id/resource", e.SessionID+" "+e.Resource)
		}
	case audit.TypeConfigReloaded:
		if e.Resource != "config" {
			bad("resource", e.Resource)
		}
	}
}

// TestAudit_ToolCallsRecordExactTrail is the forbidden-tool test and its
// neighbours seen from the audit log: each tool call is decided (and
// durable) before it runs, and a denied call never has a tool.finished.
func TestAudit_ToolCallsRecordExactTrail(t *testing.T) {
	g := startGateway(t, gwOptions{script: callScript})
	log := openAuditLog(t, sqliteAuditDSN(g))
	const cancelPOL500 = `CALL policy_update {"policy_id":"POL-500","field":"status","value":"cancelled"}`
	denied := []string{"authz.decided/allow", "run.started", "tool.decided/deny", "run.finished ok"}
	ran := []string{"authz.decided/allow", "run.started", "tool.decided/allow", "tool.finished ok", "run.finished ok"}
	cases := []struct {
		name, user, message string
		want                []string
		rule                string // prefix of the tool.decided rule
		pol500              string // POL-500's status afterwards
	}{
		{"prompt injection: agent makes the model call policy_update", "agent", cancelPOL500, denied, "tool not offered", "active"},
		{"customer makes the model call policy_update", "customer", cancelPOL500, denied, "tool not offered", "active"},
		{"customer asks for another customer's payments", "customer", `CALL payments_lookup {"customer_id":"C-200"}`, denied, "condition of payments_lookup: ", "active"},
		{"agent sends arguments the schema refuses", "agent", `CALL claims_status {"claim_id":42}`, denied, "argument schema of claims_status", "active"},
		{"agent checks a claim", "agent", `CALL claims_status {"claim_id":"CLM-1001"}`, ran, "role:agent grants claims.read", "active"},
		{"customer looks up its own payments", "customer", `CALL payments_lookup {"customer_id":"C-100"}`, ran, "role:customer grants payments.read; condition of payments_lookup: ", "active"},
		{"admin runs policy_update", "admin", cancelPOL500, ran, "role:admin grants policy.write", "cancelled"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := g.do("POST", "/v1/chat", c.user, map[string]string{"message": c.message})
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			id := r.header.Get("X-Request-Id")
			got, evs := log.trail(id, false, len(c.want))
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Fatalf("trail of request %s (-want +got):\n%s", id, diff)
			}
			tool := strings.SplitN(c.message, " ", 3)[1]
			for _, e := range evs {
				if e.Type != audit.TypeAuthzDecided && (e.RunID != r.str("run_id") || e.SessionID != r.str("session_id")) {
					t.Errorf("%s: run_id/session_id = %s %s", step(e), e.RunID, e.SessionID)
				}
				switch e.Type {
				case audit.TypeToolDecided:
					if e.Resource != "tool:"+tool || !strings.HasPrefix(e.Rule, c.rule) || (e.Decision == audit.Deny && e.Reason == "") {
						t.Errorf("tool.decided: resource %q rule %q reason %q, want tool:%s and rule %q...", e.Resource, e.Rule, e.Reason, tool, c.rule)
					}
					if calls := toolCalls(t, r); len(calls) != 1 || calls[0]["rule"] != e.Rule || calls[0]["decision"] != e.Decision {
						t.Errorf("the response's tool call %v differs from the recorded decision %s %q", calls, e.Decision, e.Rule)
					}
				case audit.TypeToolFinished:
					if e.Resource != "tool:"+tool {
						t.Errorf("tool.finished: resource %q", e.Resource)
					}
				}
			}
			if got := policyStatus(t, g, "POL-500"); got != c.pol500 {
				t.Errorf("POL-500 status = %q, want %q", got, c.pol500)
			}
		})
	}
}

// TestAudit_ContentIsHMACedAndKeysNeverStored runs with the test config's
// content: hmac: message, arguments and answer are stored as
// hmac-sha256:..., match what `gatehouse audit hash` prints, and neither
// they nor any API key appear in clear in any event.
func TestAudit_ContentIsHMACedAndKeysNeverStored(t *testing.T) {
	g := startGateway(t, gwOptions{script: callScript})
	addIntruder(t, g)
	log := openAuditLog(t, sqliteAuditDSN(g))
	const args = `{"customer_id":"C-100"}`
	msg := "CALL payments_lookup " + args
	r := g.do("POST", "/v1/chat", "customer", map[string]string{"message": msg})
	if r.status != 200 || !strings.Contains(r.str("response"), "PAY-9001") {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	for _, u := range []string{"", "intruder", "viewer", "agent", "admin"} {
		g.do("POST", "/v1/chat", u, map[string]string{"message": "hello"})
	}
	key := []byte(g.env["TEST_AUDIT_KEY"])
	want := map[string]map[string]string{
		audit.TypeRunStarted: {"message": audit.HashValue(key, msg)},
		// The customer's claim the condition reads, recorded for policy
		// diff: content, so HMACed too.
		audit.TypeToolDecided: {"arguments": audit.HashValue(key, args), "claims": audit.HashValue(key, `{"customer_id":"C-100"}`)},
		audit.TypeRunFinished: {"response": audit.HashValue(key, r.str("response"))},
	}
	evs := log.forRequest(r.header.Get("X-Request-Id"))
	if len(evs) != 5 {
		t.Fatalf("trail %v", steps(evs))
	}
	for _, e := range evs {
		if diff := cmp.Diff(want[e.Type], e.Content); diff != "" {
			t.Errorf("%s content (-want +got):\n%s", e.Type, diff)
		}
	}
	out, err := runAuditCmd(t, g.env, "hash", "--config", g.cfgPath, msg)
	if err != nil || out != want[audit.TypeRunStarted]["message"]+"\n" {
		t.Errorf("audit hash = %q, %v; want the stored %s", out, err, want[audit.TypeRunStarted]["message"])
	}
	listed := g.do("GET", "/admin/audit?type=run.started&subject=customer", "admin", nil)
	if !strings.Contains(listed.raw, want[audit.TypeRunStarted]["message"]) {
		t.Errorf("/admin/audit does not show the stored HMAC: %s", listed.raw)
	}
	secrets := map[string]string{
		"the message": msg, "the arguments": args, "the answer": r.str("response"),
		"the customer id": "C-100", "the payment the tool returned": "PAY-9001",
	}
	for u, k := range g.keys {
		secrets["the API key of "+u] = k
	}
	all := log.all()
	assertNoSecrets(t, all, secrets)
	if strings.Contains(listed.raw, msg) {
		t.Error("/admin/audit shows the message in clear")
	}
	for _, e := range all {
		for k, v := range e.Content {
			if !strings.HasPrefix(v, audit.HMACPrefix) {
				t.Errorf("%s/%d content %s = %q, not an HMAC", e.Type, e.Seq, k, v)
			}
		}
	}
}

// withCommitTimeout renders the test config with audit.commit_timeout set.
func withCommitTimeout(t *testing.T, auditDSN, timeout string) func(g *gateway) string {
	return func(g *gateway) string {
		c := g.renderConfig(allUsers, gwOptions{auditDSN: auditDSN})
		out := strings.Replace(c, "  content: hmac\n", "  content: hmac\n  commit_timeout: "+timeout+"\n", 1)
		if out == c {
			t.Fatal("the test config has no audit content line to add commit_timeout after")
		}
		return out
	}
}

// lockSQLite returns functions that take and release a write lock on the
// SQLite file at path from another connection, as another process would.
func lockSQLite(t *testing.T, path string) (lock, unlock func() error) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	lock = func() error { _, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE"); return err }
	unlock = func() error { _, err := conn.ExecContext(ctx, "ROLLBACK"); return err }
	return lock, unlock
}

// TestAudit_FailsClosedWhenTheStoreCannotCommit: with the audit store unable
// to commit (the SQLite file locked by another connection; PostgreSQL cut
// off) an admin's request that would run policy_update gets 503 +
// Retry-After within the commit bound, and POL-500 is unchanged — whether
// the outage starts before the request or between run.started and the
// tool's decision.
func TestAudit_FailsClosedWhenTheStoreCannotCommit(t *testing.T) {
	for _, outage := range []string{"sqlite file locked", "postgres unreachable", "postgres not answering"} {
		for _, midRun := range []bool{false, true} {
			name := outage + "/before the request"
			if midRun {
				name = outage + "/after the run started"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				failClosed(t, outage, midRun)
			})
		}
	}
}

func failClosed(t *testing.T, backend string, midRun bool) {
	const bound = time.Second
	// The outage starts inside the first model call of the admin's request,
	// when midRun: run.started is durable, the tool's decision is not yet.
	var outage atomic.Pointer[func() error]
	outageErr := make(chan error, 1)
	script := func(n int, req *llmtest.Request) llmtest.Reply {
		if f := outage.Swap(nil); f != nil {
			outageErr <- (*f)()
		}
		return callScript(n, req)
	}
	var gatewayDSN, readDSN string
	var start, end func() error // end is nil when the outage cannot be ended
	var proxy *storetest.Proxy
	if strings.HasPrefix(backend, "postgres") {
		readDSN = storetest.PostgresDSN(t)
		gatewayDSN, proxy = storetest.StartProxy(t, readDSN)
		start = proxy.Cut
		if backend == "postgres not answering" {
			start = proxy.Freeze
		}
	}
	g := startGateway(t, gwOptions{script: script, config: withCommitTimeout(t, gatewayDSN, bound.String())})
	if proxy != nil {
		// Cut before the gateway stops: pgx gives a server that does not
		// answer 15 s to acknowledge each closing connection.
		t.Cleanup(func() { proxy.Cut() })
	}
	if backend == "sqlite file locked" {
		readDSN = sqliteAuditDSN(g)
		start, end = lockSQLite(t, g.dir+"/audit.db")
	}
	log := openAuditLog(t, readDSN)
	if r := g.do("POST", "/v1/chat", "agent", map[string]string{"message": "hello"}); r.status != 200 {
		t.Fatalf("before the outage: %d %s", r.status, r.raw)
	}

	if midRun {
		outage.Store(&start)
	} else if err := start(); err != nil {
		t.Fatalf("start the outage: %v", err)
	}
	modelCalls := g.upstream.Count()
	began := time.Now()
	r := g.do("POST", "/v1/chat", "admin", map[string]string{
		"message": `CALL policy_update {"policy_id":"POL-500","field":"status","value":"cancelled"}`,
	})
	took := time.Since(began)
	t.Logf("%s: %d %s after %v", backend, r.status, r.str("error"), took)
	if midRun {
		select {
		case err := <-outageErr:
			if err != nil {
				t.Fatalf("start the outage: %v", err)
			}
		default:
			t.Fatal("the model was never called, so the outage never started")
		}
	} else if n := g.upstream.Count() - modelCalls; n != 0 {
		t.Errorf("the model was called %d times during the outage", n)
	}
	if r.status != 503 || r.str("error") != "audit_unavailable" || r.header.Get("Retry-After") == "" {
		t.Errorf("got %d Retry-After=%q %s, want 503 audit_unavailable with Retry-After", r.status, r.header.Get("Retry-After"), r.raw)
	}
	if took > 3*bound {
		t.Errorf("the refusal took %v; the bound is %v", took, bound)
	}
	if got := policyStatus(t, g, "POL-500"); got != "active" {
		t.Fatalf("POL-500 status = %q: policy_update ran without its decision on record", got)
	}
	if rd := g.do("GET", "/ready", "", nil); rd.status != 503 || rd.str("error") != "audit_unavailable" || rd.str("detail") == "" || rd.str("request_id") == "" {
		t.Errorf("/ready during the outage = %d %s", rd.status, rd.raw)
	}

	if end != nil {
		if err := end(); err != nil {
			t.Fatalf("end the outage: %v", err)
		}
		ready := 0
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if ready = g.do("GET", "/ready", "", nil).status; ready == 200 {
				break
			}
		}
		if ready != 200 {
			t.Fatalf("/ready after the outage = %d", ready)
		}
	}
	// What the log holds of the refused request: its authorization and
	// run start when the outage came mid-run, nothing when it came first.
	var want []string
	if midRun {
		want = []string{"authz.decided/allow", "run.started"}
	}
	if got, _ := log.trail(r.header.Get("X-Request-Id"), false, 0); !cmp.Equal(want, got) {
		t.Errorf("trail of the refused request = %v, want %v", got, want)
	}
	if end == nil {
		return
	}
	// The same request now runs: the outage alone stopped it.
	if r := g.do("POST", "/v1/chat", "admin", map[string]string{
		"message": `CALL policy_update {"policy_id":"POL-500","field":"status","value":"cancelled"}`,
	}); r.status != 200 || policyStatus(t, g, "POL-500") != "cancelled" {
		t.Fatalf("after the outage: %d %s", r.status, r.raw)
	}
	key, err := audit.LoadKey(g.dir + "/checkpoint.key")
	if err != nil {
		t.Fatal(err)
	}
	res, err := audit.Verify(context.Background(), log.st, audit.VerifyOptions{PublicKey: key.Public().(ed25519.PublicKey)})
	if err != nil || res.Err() != nil {
		t.Fatalf("verify after the outage: %v %v", err, res.Err())
	}
}
