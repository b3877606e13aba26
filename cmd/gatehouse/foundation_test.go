package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/llm/llmtest"
)

func TestTutorial_MissingWrongAndValidToken(t *testing.T) {
	g := startGateway(t, gwOptions{})
	if r := g.do("GET", "/health", "", nil); r.status != 200 || r.str("status") != "ok" {
		t.Fatalf("health: %d %s", r.status, r.raw)
	}
	r := g.do("POST", "/chat", "", map[string]string{"message": "hi"})
	if r.status != 401 || r.str("detail") != "Missing bearer token" || r.str("error") != "missing_token" || r.str("request_id") == "" {
		t.Errorf("no header: %d %s", r.status, r.raw)
	}
	if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, `Bearer realm="gatehouse"`) {
		t.Errorf("WWW-Authenticate = %q", got)
	}
	req, _ := http.NewRequest("POST", g.base+"/chat", strings.NewReader(`{"message":"hi"}`))
	req.Header.Set("Authorization", "Bearer super-secret-token")
	r = g.send(req)
	if r.status != 403 || r.str("detail") != "Invalid token" {
		t.Errorf("wrong token: %d %s", r.status, r.raw)
	}
	if g.upstream.Count() != 0 {
		t.Fatalf("upstream called %d times before a valid request", g.upstream.Count())
	}
	r = g.do("POST", "/chat", "agent", map[string]string{"message": "Summarize our authentication flow in one sentence."})
	if r.status != 200 || r.body["authenticated"] != true || r.str("response") != "Hello from the scripted model." || r.str("run_id") == "" || r.str("session_id") == "" {
		t.Fatalf("valid key: %d %s", r.status, r.raw)
	}
	reqs := g.upstream.Requests()
	if len(reqs) != 1 || reqs[0].Last().Text() != "Summarize our authentication flow in one sentence." || reqs[0].Messages[0].Role != "system" {
		t.Fatalf("upstream saw %+v", reqs)
	}
	if strings.Contains(g.stderr.String(), g.keys["agent"]) {
		t.Error("an API key appears in the logs")
	}
	if !strings.Contains(g.stderr.String(), `"msg":"run started"`) || !strings.Contains(g.stderr.String(), `"subject":"agent"`) {
		t.Error("no 'run started' log line with the subject")
	}
}

// toolScript calls claims_status for CLM-1001, then answers with the result.
func toolScript(n int, req *llmtest.Request) llmtest.Reply {
	if req.Last().Role == "tool" {
		return llmtest.Reply{Content: "Claim result: " + req.Last().Text()}
	}
	return llmtest.Reply{ToolCalls: []llmtest.ToolCall{llmtest.Call("call_1", "claims_status", `{"claim_id":"CLM-1001"}`)}}
}

func TestChat_RunUsesClaimsStatusTool(t *testing.T) {
	g := startGateway(t, gwOptions{script: toolScript})
	r := g.do("POST", "/v1/chat", "agent", map[string]string{"message": "status of CLM-1001?"})
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	if !strings.Contains(r.str("response"), `"status":"in_review"`) || !strings.Contains(r.str("response"), "CLM-1001") {
		t.Errorf("response lacks the row: %s", r.str("response"))
	}
	calls, _ := r.body["tool_calls"].([]any)
	if len(calls) != 1 {
		t.Fatalf("tool_calls = %v", r.body["tool_calls"])
	}
	c := calls[0].(map[string]any)
	if c["name"] != "claims_status" || c["decision"] != "allow" || c["status"] != "ok" || c["arguments"] != `{"claim_id":"CLM-1001"}` || c["id"] != "call_1" {
		t.Errorf("tool call = %v", c)
	}
	if r.str("agent") != "support_agent" || r.str("model") != "test-model" {
		t.Errorf("agent/model = %q/%q", r.str("agent"), r.str("model"))
	}
	if u, _ := r.body["usage"].(map[string]any); u["total_tokens"] != float64(60) {
		t.Errorf("usage = %v", r.body["usage"])
	}
	first := g.upstream.Requests()[0]
	if got := strings.Join(first.ToolNames(), ","); got != "claims_status" {
		t.Errorf("agent was shown tools %q, want only claims_status", got)
	}
}

func TestEndpoints_RoleMatrix(t *testing.T) {
	g := startGateway(t, gwOptions{})
	own := g.do("POST", "/v1/chat", "agent", map[string]string{"message": "hello"})
	if own.status != 200 {
		t.Fatalf("setup: %d %s", own.status, own.raw)
	}
	sess := "/v1/sessions/" + own.str("session_id")
	chat := map[string]string{"message": "hi"}
	type want struct{ none, viewer, agent, admin int }
	cases := []struct {
		method, path string
		body         any
		want         want
	}{
		{"GET", "/health", nil, want{200, 200, 200, 200}},
		{"GET", "/ready", nil, want{200, 200, 200, 200}},
		{"POST", "/chat", chat, want{401, 403, 200, 200}},
		{"POST", "/v1/chat", chat, want{401, 403, 200, 200}},
		{"GET", sess, nil, want{401, 404, 200, 404}},
		{"POST", "/admin/reload", nil, want{401, 403, 403, 200}},
		{"GET", "/admin/audit", nil, want{401, 403, 403, 200}},
		{"GET", "/admin/audit/verify", nil, want{401, 403, 403, 200}},
	}
	for _, c := range cases {
		for _, u := range []struct {
			user string
			want int
		}{{"", c.want.none}, {"viewer", c.want.viewer}, {"agent", c.want.agent}, {"admin", c.want.admin}} {
			t.Run(fmt.Sprintf("%s %s as %q", c.method, c.path, u.user), func(t *testing.T) {
				r := g.do(c.method, c.path, u.user, c.body)
				if r.status != u.want {
					t.Fatalf("status %d, want %d: %s", r.status, u.want, r.raw)
				}
				if u.want == 403 && r.str("detail") != "Not authorized for this action" {
					t.Errorf("detail %q", r.str("detail"))
				}
				if r.status >= 400 && (r.str("error") == "" || r.str("request_id") == "") {
					t.Errorf("error body %s", r.raw)
				}
			})
		}
	}
}

func TestReload_RolesBrokenConfigAndRemovedKey(t *testing.T) {
	g := startGateway(t, gwOptions{})
	if r := g.do("POST", "/admin/reload", "agent", nil); r.status != 403 {
		t.Fatalf("agent reload: %d", r.status)
	}
	good := g.renderConfig(allUsers, gwOptions{})
	g.writeConfig(good + "\nunknown_key: true\n")
	r := g.do("POST", "/admin/reload", "admin", nil)
	if r.status != 400 || r.str("error") != "invalid_config" || !strings.Contains(r.raw, "unknown_key") {
		t.Fatalf("broken config: %d %s", r.status, r.raw)
	}
	if r := g.do("POST", "/chat", "agent", map[string]string{"message": "still there?"}); r.status != 200 {
		t.Fatalf("old config stopped serving: %d %s", r.status, r.raw)
	}
	g.writeConfig(g.renderConfig([]string{"agent", "admin", "customer"}, gwOptions{}))
	r = g.do("POST", "/admin/reload", "admin", nil)
	if r.status != 200 || r.body["reloaded"] != true || r.body["version"] != float64(2) {
		t.Fatalf("reload: %d %s", r.status, r.raw)
	}
	if r := g.do("GET", "/v1/sessions/x", "viewer", nil); r.status != 403 || r.str("detail") != "Invalid token" {
		t.Fatalf("removed key: %d %s", r.status, r.raw)
	}
	if r := g.do("POST", "/chat", "agent", map[string]string{"message": "hi"}); r.status != 200 {
		t.Fatalf("kept key: %d", r.status)
	}
}

func TestChat_BadInputIsRefusedAndNothingRuns(t *testing.T) {
	g := startGateway(t, gwOptions{})
	big := `{"message":"` + strings.Repeat("a", 2<<20) + `"}`
	cases := []struct {
		name   string
		body   string
		auth   string
		status int
		code   string
	}{
		{"malformed JSON", `{"message":`, "agent", 400, "invalid_request"},
		{"missing message", `{}`, "agent", 400, "invalid_request"},
		{"empty message", `{"message":""}`, "agent", 400, "invalid_request"},
		{"wrong type", `{"message":42}`, "agent", 400, "invalid_request"},
		{"unknown field", `{"message":"x","role":"admin"}`, "agent", 400, "invalid_request"},
		{"two values", `{"message":"x"}{"message":"y"}`, "agent", 400, "invalid_request"},
		{"stray bracket after", `{"message":"x"}]`, "agent", 400, "invalid_request"},
		{"stray brace after", `{"message":"x"}}`, "agent", 400, "invalid_request"},
		{"key in another case", `{"MESSAGE":"x"}`, "agent", 400, "invalid_request"},
		{"key twice", `{"message":"a","message":"b"}`, "agent", 400, "invalid_request"},
		{"key twice in two cases", `{"message":"a","Message":"b"}`, "agent", 400, "invalid_request"},
		{"array", `[{"message":"x"}]`, "agent", 400, "invalid_request"},
		{"2 MiB body", big, "agent", 413, "body_too_large"},
		{"basic auth", `{"message":"x"}`, "Basic YWdlbnQ6cGFzcw==", 401, "missing_token"},
		{"empty bearer", `{"message":"x"}`, "Bearer ", 401, "missing_token"},
		{"bearer only", `{"message":"x"}`, "Bearer", 401, "missing_token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", g.base+"/v1/chat", strings.NewReader(c.body))
			req.Header.Set("Content-Type", "application/json")
			if c.auth == "agent" {
				req.Header.Set("Authorization", "Bearer "+g.keys["agent"])
			} else {
				req.Header.Set("Authorization", c.auth)
			}
			r := g.send(req)
			if r.status != c.status || r.str("error") != c.code || r.str("detail") == "" {
				t.Fatalf("got %d %s", r.status, r.raw)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("content type %q", ct)
			}
		})
	}
	if n := g.upstream.Count(); n != 0 {
		t.Fatalf("the model was called %d times for bad input", n)
	}
}

func TestChat_UpstreamFailureAndHang(t *testing.T) {
	t.Run("500 on every try gives 502 after the retries", func(t *testing.T) {
		g := startGateway(t, gwOptions{script: func(int, *llmtest.Request) llmtest.Reply { return llmtest.Reply{Status: 500} }})
		r := g.do("POST", "/v1/chat", "agent", map[string]string{"message": "hi"})
		if r.status != 502 || r.str("error") != "upstream_failed" || r.str("run_id") == "" {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		if n := g.upstream.Count(); n != 3 {
			t.Errorf("upstream tried %d times, want 1 + max_retries(2)", n)
		}
	})
	t.Run("an upstream that hangs gives 504 within the timeout", func(t *testing.T) {
		g := startGateway(t, gwOptions{requestTimeout: "2s", script: func(int, *llmtest.Request) llmtest.Reply { return llmtest.Reply{Delay: time.Minute} }})
		start := time.Now()
		r := g.do("POST", "/v1/chat", "agent", map[string]string{"message": "hi"})
		if el := time.Since(start); r.status != 504 || el > 5*time.Second || el < 2*time.Second {
			t.Fatalf("%d after %v: %s", r.status, el, r.raw)
		}
	})
}

func TestResponses_CarrySecurityHeaders(t *testing.T) {
	g := startGateway(t, gwOptions{})
	for _, path := range []string{"/health", "/nope"} {
		r := g.do("GET", path, "", nil)
		for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"} {
			if r.header.Get(k) != v {
				t.Errorf("%s: %s = %q", path, k, r.header.Get(k))
			}
		}
		if !strings.Contains(r.header.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Errorf("%s: CSP %q", path, r.header.Get("Content-Security-Policy"))
		}
	}
	var body map[string]any
	_ = json.Unmarshal([]byte(g.do("GET", "/nope", "", nil).raw), &body)
	if body["error"] != "not_found" {
		t.Errorf("unknown route body %v", body)
	}
}

// limitedGatewayWithAgentBurstUsed starts a gateway limited to 6 requests a
// minute, burst 2, and spends the agent's burst.
func limitedGatewayWithAgentBurstUsed(t *testing.T) *gateway {
	t.Helper()
	g := startGateway(t, gwOptions{config: func(g *gateway) string {
		return strings.Replace(g.renderConfig(allUsers, gwOptions{}), "rate_limit: {requests_per_minute: 6000, burst: 600}", "rate_limit: {requests_per_minute: 6, burst: 2}", 1)
	}})
	for i := 0; i < 2; i++ {
		if r := g.do("POST", "/chat", "agent", map[string]string{"message": "hi"}); r.status != 200 {
			t.Fatalf("request %d: %d", i, r.status)
		}
	}
	return g
}

func TestRateLimit_PerSubjectWithRetryAfter(t *testing.T) {
	g := limitedGatewayWithAgentBurstUsed(t)
	r := g.do("POST", "/chat", "agent", map[string]string{"message": "hi"})
	if r.status != 429 || r.str("error") != "rate_limited" || r.header.Get("Retry-After") == "" {
		t.Fatalf("third: %d %s %v", r.status, r.raw, r.header)
	}
	if n := g.upstream.Count(); n != 2 {
		t.Errorf("model called %d times", n)
	}
	if r := g.do("POST", "/chat", "admin", map[string]string{"message": "hi"}); r.status != 200 {
		t.Errorf("another subject is limited too: %d", r.status)
	}
	ev := g.do("GET", "/admin/audit?subject=agent&decision=deny", "admin", nil)
	if !strings.Contains(ev.raw, `"rule":"rate limit"`) || !strings.Contains(ev.raw, `"resource":"POST /chat"`) {
		t.Errorf("the refusal is not recorded with its route: %s", ev.raw)
	}
}

// A reload keeps the callers' buckets while server.rate_limit is unchanged
// (rotating a key must not refill everyone's budget); changing the limit
// starts afresh at the new rate.
func TestRateLimit_BucketsSurviveAReload(t *testing.T) {
	g := limitedGatewayWithAgentBurstUsed(t)
	if r := g.do("POST", "/admin/reload", "admin", nil); r.status != 200 {
		t.Fatalf("reload: %d %s", r.status, r.raw)
	}
	if r := g.do("POST", "/chat", "agent", map[string]string{"message": "hi"}); r.status != 429 {
		t.Fatalf("after a reload with the same limit: %d, want 429 (the bucket was refilled)", r.status)
	}
	g.writeConfig(strings.Replace(g.renderConfig(allUsers, gwOptions{}), "rate_limit: {requests_per_minute: 6000, burst: 600}", "rate_limit: {requests_per_minute: 60, burst: 5}", 1))
	if r := g.do("POST", "/admin/reload", "admin", nil); r.status != 200 {
		t.Fatalf("reload: %d %s", r.status, r.raw)
	}
	if r := g.do("POST", "/chat", "agent", map[string]string{"message": "hi"}); r.status != 200 {
		t.Fatalf("after a reload with a new limit: %d, want 200", r.status)
	}
}

func TestChat_OverloadIsRefusedNotQueued(t *testing.T) {
	g := startGateway(t, gwOptions{script: func(int, *llmtest.Request) llmtest.Reply {
		return llmtest.Reply{Content: "slow", Delay: 800 * time.Millisecond}
	}, config: func(g *gateway) string {
		return strings.Replace(g.renderConfig(allUsers, gwOptions{}), "request_timeout: 20s", "request_timeout: 20s\n  max_concurrent_runs: 1", 1)
	}})
	first := make(chan response, 1)
	go func() { first <- g.do("POST", "/v1/chat", "agent", map[string]string{"message": "one"}) }()
	for g.upstream.Count() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	r := g.do("POST", "/v1/chat", "admin", map[string]string{"message": "two"})
	if r.status != 503 || r.str("error") != "overloaded" || r.header.Get("Retry-After") == "" {
		t.Fatalf("second: %d %s", r.status, r.raw)
	}
	// The run in flight still counts after a reload.
	if r := g.do("POST", "/admin/reload", "admin", nil); r.status != 200 {
		t.Fatalf("reload: %d %s", r.status, r.raw)
	}
	if r := g.do("POST", "/v1/chat", "admin", map[string]string{"message": "two again"}); r.status != 503 || r.str("error") != "overloaded" {
		t.Fatalf("after reload: %d %s", r.status, r.raw)
	}
	if r := <-first; r.status != 200 {
		t.Fatalf("first: %d %s", r.status, r.raw)
	}
	if n := g.upstream.Count(); n != 1 {
		t.Errorf("the refused run reached the model: %d calls", n)
	}
	if r := g.do("POST", "/v1/chat", "admin", map[string]string{"message": "three"}); r.status != 200 {
		t.Fatalf("after: %d", r.status)
	}
}
