package main

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/llm/llmtest"
)

// missingSession is a session that does not exist, its id well-formed.
const missingSession = "/v1/sessions/ses_00000000000000000000000000000000"

func slowScript(d time.Duration) llmtest.Script {
	return func(int, *llmtest.Request) llmtest.Reply { return llmtest.Reply{Content: "slow answer", Delay: d} }
}

func TestShutdown_LetsRunsInFlightFinish(t *testing.T) {
	g := startGateway(t, gwOptions{script: slowScript(time.Second)})
	got := make(chan response, 1)
	go func() { got <- g.do("POST", "/v1/chat", "agent", map[string]string{"message": "hi"}) }()
	for g.upstream.Count() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	if err := g.stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	r := <-got
	if r.status != 200 || r.str("response") != "slow answer" {
		t.Fatalf("the run in flight was cut: %d %s", r.status, r.raw)
	}
	if _, err := http.Get(g.base + "/health"); err == nil {
		t.Error("still serving after shutdown")
	}
}

func TestReload_RunInFlightKeepsItsConfig(t *testing.T) {
	g := startGateway(t, gwOptions{script: slowScript(700 * time.Millisecond)})
	got := make(chan response, 1)
	go func() { got <- g.do("POST", "/v1/chat", "agent", map[string]string{"message": "hi"}) }()
	for g.upstream.Count() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	g.writeConfig(g.renderConfig([]string{"viewer", "admin"}, gwOptions{}))
	if r := g.do("POST", "/admin/reload", "admin", nil); r.status != 200 {
		t.Fatalf("reload: %d %s", r.status, r.raw)
	}
	if r := <-got; r.status != 200 {
		t.Fatalf("run in flight: %d %s", r.status, r.raw)
	}
	if r := g.do("POST", "/v1/chat", "agent", map[string]string{"message": "hi"}); r.status != 403 || r.str("detail") != "Invalid token" {
		t.Fatalf("after reload: %d %s", r.status, r.raw)
	}
}

func TestReload_OnSIGHUP(t *testing.T) {
	g := startGateway(t, gwOptions{})
	if r := g.do("GET", missingSession, "viewer", nil); r.status != 404 {
		t.Fatalf("before: %d", r.status)
	}
	g.writeConfig(g.renderConfig([]string{"agent", "admin"}, gwOptions{}))
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := g.do("GET", missingSession, "viewer", nil)
		if r.status == 403 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("SIGHUP did not reload: viewer still gets %d", r.status)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(g.stderr.String(), `"msg":"config reloaded"`) {
		t.Error("no reload log line")
	}
}

// TestReadme_QuickstartAnswersFromTheOfflineModel follows the README: serve
// --dev, source the credentials file, send its curl line.
func TestReadme_QuickstartAnswersFromTheOfflineModel(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gatehouse-data")
	g := startDevAt(t, dir)
	base, out := g.base, g.stdout
	if !strings.Contains(out.String(), "offline demo model") {
		t.Errorf("start-up does not say which model: %s", out.String())
	}
	f, err := os.Open(filepath.Join(dir, "dev-credentials.env"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if st, _ := f.Stat(); st.Mode().Perm() != 0o600 {
		t.Errorf("credentials mode %v", st.Mode().Perm())
	}
	creds := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && !strings.HasPrefix(k, "#") {
			creds[k] = v
		}
	}
	for _, k := range []string{"GATEHOUSE_VIEWER_KEY", "GATEHOUSE_AGENT_KEY", "GATEHOUSE_ADMIN_KEY", "GATEHOUSE_CUSTOMER_KEY"} {
		if creds[k] == "" {
			t.Errorf("%s missing", k)
		}
	}
	// The key as the README's `source` gives it, not as the harness read it.
	c := &gateway{t: t, base: base, keys: map[string]string{"agent": creds["GATEHOUSE_AGENT_KEY"]}}
	r := c.do("POST", "/chat", "agent", map[string]string{"message": "What is the status of claim CLM-1001?"})
	if r.status != 200 || !strings.Contains(r.str("response"), "offline demo model") || !strings.Contains(r.str("response"), "in_review") {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	if strings.Contains(g.stderr.String(), creds["GATEHOUSE_AGENT_KEY"]) {
		t.Error("a key reached the logs")
	}
}

// Settings read only at start cannot be changed by a reload: it is refused
// with the keys named, and the running config keeps serving (an
// audit.content change that a 200 claimed but did not make would leave
// contents in the log that the operator believes are no longer there).
func TestReload_RestartOnlySettingsAreRefused(t *testing.T) {
	g := startGateway(t, gwOptions{})
	good := g.renderConfig(allUsers, gwOptions{})
	for _, c := range []struct{ name, from, to, key string }{
		{"audit content", "content: hmac", "content: none", "audit"},
		{"sessions store", "sessions.db", "sessions2.db", "sessions.dsn"},
		{"demo store", "demo.db", "demo2.db", "demo"},
		{"shutdown timeout", "request_timeout: 20s", "request_timeout: 20s\n  shutdown_timeout: 9s", "server.shutdown_timeout"},
		{"metrics listener", "request_timeout: 20s", "request_timeout: 20s\n  metrics_addr: \"127.0.0.1:0\"", "server.metrics_addr"},
		{"tls", "max_body_bytes: 1048576", "max_body_bytes: 1048576\n  tls: {cert_file: " + g.dir + "/c.pem, key_file: " + g.dir + "/k.pem}", "server.tls"},
	} {
		t.Run(c.name, func(t *testing.T) {
			changed := strings.Replace(good, c.from, c.to, 1)
			if changed == good {
				t.Fatalf("%q not in the config", c.from)
			}
			g.writeConfig(changed)
			r := g.do("POST", "/admin/reload", "admin", nil)
			if r.status != 400 || r.str("error") != "invalid_config" || !strings.Contains(r.raw, c.key+": changed") && !strings.Contains(r.raw, c.key+",") {
				t.Fatalf("reload: %d %s", r.status, r.raw)
			}
			if !strings.Contains(r.raw, "restart") {
				t.Errorf("reason does not say a restart applies it: %s", r.raw)
			}
			if r := g.do("POST", "/v1/chat", "agent", map[string]string{"message": "still there?"}); r.status != 200 {
				t.Fatalf("old config stopped serving: %d %s", r.status, r.raw)
			}
		})
	}
	// The same file with only reloadable changes goes through (the request
	// timeout is per runtime).
	reloadable := strings.Replace(good, "viewer: [read]", "viewer: [read, respond]", 1)
	g.writeConfig(strings.Replace(reloadable, "request_timeout: 20s", "request_timeout: 25s", 1))
	if r := g.do("POST", "/admin/reload", "admin", nil); r.status != 200 || r.body["version"] != float64(2) {
		t.Fatalf("reloadable change: %d %s", r.status, r.raw)
	}
}

// Builtin tools run over the demo database, which is opened at start only
// when the config then used one. A reload adding the first builtin tool is
// refused; accepting it would give the tool no database to run on.
func TestReload_FirstBuiltinToolNeedsARestart(t *testing.T) {
	noBuiltin := func(g *gateway) string {
		c := g.renderConfig(allUsers, gwOptions{})
		start := strings.Index(c, "  claims_status:")
		end := strings.Index(c, "agents:")
		c = c[:start] + c[end:]
		return strings.Replace(c, "tools: [claims_status, payments_lookup, policy_update]", "tools: []", 1)
	}
	g := startGateway(t, gwOptions{config: noBuiltin})
	g.writeConfig(g.renderConfig(allUsers, gwOptions{}))
	r := g.do("POST", "/admin/reload", "admin", nil)
	if r.status != 400 || !strings.Contains(r.raw, "tools.claims_status: builtin tools need the demo database") {
		t.Fatalf("reload: %d %s", r.status, r.raw)
	}
	if r := g.do("POST", "/v1/chat", "agent", map[string]string{"message": "status of claim CLM-1001?"}); r.status != 200 {
		t.Fatalf("after the refused reload: %d %s", r.status, r.raw)
	}
}

// A session's history is bounded: continuing a full one is refused before
// anything runs, so a caller cannot grow what every later turn loads and
// sends to the model without end. The bound reloads.
func TestSessions_FullSessionIsRefused(t *testing.T) {
	limited := func(g *gateway) string {
		c := g.renderConfig(allUsers, gwOptions{})
		return strings.Replace(c, "sessions:\n", "sessions:\n  max_messages: 4\n", 1)
	}
	g := startGateway(t, gwOptions{config: limited})
	first := g.do("POST", "/v1/chat", "agent", map[string]string{"message": "one"})
	id := first.str("session_id")
	if first.status != 200 || id == "" {
		t.Fatalf("first: %d %s", first.status, first.raw)
	}
	if r := g.do("POST", "/v1/chat", "agent", map[string]string{"message": "two", "session_id": id}); r.status != 200 {
		t.Fatalf("second: %d %s", r.status, r.raw)
	}
	calls := g.upstream.Count()
	r := g.do("POST", "/v1/chat", "agent", map[string]string{"message": "three", "session_id": id})
	if r.status != 409 || r.str("error") != "session_full" || !strings.Contains(r.str("detail"), "4 messages") {
		t.Fatalf("third: %d %s", r.status, r.raw)
	}
	if g.upstream.Count() != calls {
		t.Errorf("the model was called for a full session")
	}
	// Raising the bound by reload lets the session go on.
	g.writeConfig(strings.Replace(limited(g), "max_messages: 4", "max_messages: 10", 1))
	if r := g.do("POST", "/admin/reload", "admin", nil); r.status != 200 {
		t.Fatalf("reload: %d %s", r.status, r.raw)
	}
	if r := g.do("POST", "/v1/chat", "agent", map[string]string{"message": "three", "session_id": id}); r.status != 200 {
		t.Fatalf("after raising the bound: %d %s", r.status, r.raw)
	}
}

// Turns of one session that run side by side cannot together pass its
// bound: each saw room left before it ran, but the bound is checked again
// where the messages are stored, and a turn that finds the session full
// then is answered 409 session_full (its run is in the audit log).
func TestSessions_ConcurrentContinuationsKeepTheBound(t *testing.T) {
	g := startGateway(t, gwOptions{script: slowScript(300 * time.Millisecond), config: func(g *gateway) string {
		c := g.renderConfig(allUsers, gwOptions{})
		return strings.Replace(c, "sessions:\n", "sessions:\n  max_messages: 4\n", 1)
	}})
	first := g.do("POST", "/v1/chat", "agent", map[string]string{"message": "one"})
	id := first.str("session_id")
	if first.status != 200 || id == "" {
		t.Fatalf("first: %d %s", first.status, first.raw)
	}
	const n = 16
	got := make(chan response, n)
	for i := range n {
		go func() {
			got <- g.do("POST", "/v1/chat", "agent", map[string]string{"message": fmt.Sprint("turn ", i), "session_id": id})
		}()
	}
	var ok, full int
	for range n {
		r := <-got
		switch {
		case r.status == 200:
			ok++
		case r.status == 409 && r.str("error") == "session_full" && r.str("run_id") != "":
			full++
		default:
			t.Errorf("continuation: %d %s", r.status, r.raw)
		}
	}
	// Two messages, then two per turn: one turn fits below max_messages 4.
	if ok != 1 || full != n-1 {
		t.Errorf("%d turns answered, %d refused as full; want 1 and %d", ok, full, n-1)
	}
	sess := g.do("GET", "/v1/sessions/"+id, "agent", nil)
	msgs, _ := sess.body["messages"].([]any)
	if sess.status != 200 || len(msgs) != 4 {
		t.Errorf("session after the race: %d, %d messages, want 4", sess.status, len(msgs))
	}
}
