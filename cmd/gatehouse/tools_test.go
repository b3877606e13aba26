package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/authn"
	"github.com/gatehousehq/gatehouse/internal/config"
	"github.com/gatehousehq/gatehouse/internal/devkey"
	"github.com/gatehousehq/gatehouse/internal/llm/llmtest"
	"github.com/gatehousehq/gatehouse/internal/tools/builtin"
)

// callScript makes the model call the tool named in a "CALL <tool> <args>"
// message (one call per line), then answer with what the tools returned.
func callScript(n int, req *llmtest.Request) llmtest.Reply {
	if req.Last().Role == "tool" {
		var parts []string
		for i := len(req.Messages) - 1; i >= 0 && req.Messages[i].Role == "tool"; i-- {
			parts = append([]string{req.Messages[i].Text()}, parts...)
		}
		return llmtest.Reply{Content: "tools said: " + strings.Join(parts, " | ")}
	}
	var calls []llmtest.ToolCall
	for i, line := range strings.Split(req.Last().Text(), "\n") {
		f := strings.SplitN(line, " ", 3)
		if len(f) == 3 && f[0] == "CALL" {
			calls = append(calls, llmtest.Call(fmt.Sprintf("call_%d", i), f[1], f[2]))
		}
	}
	if len(calls) == 0 {
		return llmtest.Reply{Content: "no tools needed"}
	}
	return llmtest.Reply{ToolCalls: calls}
}

// toolCalls returns the answer's tool_calls, checking that each has every
// field the SPEC lists (reason too, empty or not).
func toolCalls(t *testing.T, r response) []map[string]any {
	t.Helper()
	raw, _ := r.body["tool_calls"].([]any)
	var out []map[string]any
	for _, c := range raw {
		call := c.(map[string]any)
		for _, k := range []string{"id", "name", "arguments", "decision", "reason", "status"} {
			if _, ok := call[k]; !ok {
				t.Errorf("tool call %v has no %q", call, k)
			}
		}
		out = append(out, call)
	}
	return out
}

func policyStatus(t *testing.T, g *gateway, id string) string {
	t.Helper()
	db, err := builtin.OpenDemo(context.Background(), "sqlite://"+g.dir+"/demo.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := db.GetPolicy(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return p.Status
}

func TestChat_PromptInjectionCannotRunForbiddenTool(t *testing.T) {
	g := startGateway(t, gwOptions{script: callScript})
	r := g.do("POST", "/v1/chat", "agent", map[string]string{
		"message": `CALL policy_update {"policy_id":"POL-500","field":"status","value":"cancelled"}`,
	})
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	calls := toolCalls(t, r)
	if len(calls) != 1 || calls[0]["decision"] != "deny" || calls[0]["status"] != "denied" || calls[0]["name"] != "policy_update" ||
		calls[0]["reason"] == "" || calls[0]["rule"] == "" {
		t.Fatalf("tool_calls = %v", calls)
	}
	if got := policyStatus(t, g, "POL-500"); got != "active" {
		t.Fatalf("POL-500 status = %q: the forbidden tool ran", got)
	}
	reqs := g.upstream.Requests()
	if len(reqs) != 2 {
		t.Fatalf("model saw %d requests", len(reqs))
	}
	if names := reqs[0].ToolNames(); strings.Contains(strings.Join(names, ","), "policy_update") {
		t.Errorf("policy_update was shown to an agent: %v", names)
	}
	var toolErr map[string]string
	if err := json.Unmarshal([]byte(reqs[1].Last().Text()), &toolErr); err != nil {
		t.Fatalf("tool message is not JSON: %q", reqs[1].Last().Text())
	}
	if toolErr["error"] != "not_authorized" || toolErr["tool"] != "policy_update" || toolErr["reason"] == "" {
		t.Errorf("model got %v", toolErr)
	}
	if !strings.Contains(r.str("response"), "not_authorized") {
		t.Errorf("response does not show the denial: %s", r.str("response"))
	}
}

func TestChat_CustomerConditionAndStrictArguments(t *testing.T) {
	g := startGateway(t, gwOptions{script: callScript})
	cases := []struct {
		name, args       string
		decision, status string
		ran              bool
	}{
		{"own payments", `{"customer_id":"C-100"}`, "allow", "ok", true},
		{"another customer's payments", `{"customer_id":"C-200"}`, "deny", "denied", false},
		{"key differing in case", `{"customer_id":"C-100","Customer_ID":"C-200"}`, "deny", "invalid_arguments", false},
		{"duplicate key", `{"customer_id":"C-100","customer_id":"C-200"}`, "deny", "invalid_arguments", false},
		{"extra key", `{"customer_id":"C-100","all":true}`, "deny", "invalid_arguments", false},
		{"number instead of string", `{"customer_id":100}`, "deny", "invalid_arguments", false},
		{"not an object", `["C-100"]`, "deny", "invalid_arguments", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := g.upstream.Count()
			r := g.do("POST", "/v1/chat", "customer", map[string]string{"message": "CALL payments_lookup " + c.args})
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			calls := toolCalls(t, r)
			if len(calls) != 1 || calls[0]["decision"] != c.decision || calls[0]["status"] != c.status {
				t.Fatalf("tool_calls = %v", calls)
			}
			answer := g.upstream.Requests()[before+1].Last().Text()
			if ran := strings.Contains(answer, "PAY-9001"); ran != c.ran {
				t.Errorf("tool ran = %v, want %v (model got %s)", ran, c.ran, answer)
			}
			if strings.Contains(answer, "PAY-9003") {
				t.Errorf("C-200's payments reached the model: %s", answer)
			}
		})
	}
}

func TestSessions_AnotherSubjectGets404AndChangesNothing(t *testing.T) {
	g := startGateway(t, gwOptions{})
	a := g.do("POST", "/v1/chat", "agent", map[string]string{"message": "first"})
	if a.status != 200 {
		t.Fatalf("%d %s", a.status, a.raw)
	}
	id := a.str("session_id")
	if len(id) < len("ses_")+32 {
		t.Fatalf("session id %q is shorter than 128 bits", id)
	}
	before := g.do("GET", "/v1/sessions/"+id, "agent", nil)
	if before.status != 200 {
		t.Fatalf("owner read: %d", before.status)
	}
	if r := g.do("GET", "/v1/sessions/"+id, "admin", nil); r.status != 404 || r.str("error") != "not_found" {
		t.Errorf("other subject read: %d %s", r.status, r.raw)
	}
	if r := g.do("POST", "/v1/chat", "admin", map[string]string{"message": "hijack", "session_id": id}); r.status != 404 {
		t.Errorf("other subject continue: %d %s", r.status, r.raw)
	}
	after := g.do("GET", "/v1/sessions/"+id, "agent", nil)
	if after.raw != before.raw {
		t.Errorf("history changed:\nbefore %s\nafter  %s", before.raw, after.raw)
	}
	if strings.Contains(after.raw, "hijack") {
		t.Error("the other subject's message reached the session")
	}
	// The owner continues; the model sees the earlier turn.
	r := g.do("POST", "/v1/chat", "agent", map[string]string{"message": "second", "session_id": id})
	if r.status != 200 || r.str("session_id") != id {
		t.Fatalf("owner continue: %d %s", r.status, r.raw)
	}
	last := g.upstream.Requests()[g.upstream.Count()-1]
	var texts []string
	for _, m := range last.Messages {
		texts = append(texts, m.Role+":"+m.Text())
	}
	if got := strings.Join(texts, "|"); !strings.Contains(got, "user:first|assistant:Hello from the scripted model.|user:second") {
		t.Errorf("model history = %s", got)
	}
	denied := g.do("GET", "/admin/audit?type=session.denied", "admin", nil)
	if evs, _ := denied.body["events"].([]any); len(evs) != 2 {
		t.Errorf("session.denied events = %d, want 2: %s", len(evs), denied.raw)
	}
}

func TestConfig_BadConditionAndUnknownToolAreRefused(t *testing.T) {
	g := startGateway(t, gwOptions{script: callScript})
	good := g.renderConfig(allUsers, gwOptions{})
	badCond := strings.Replace(good, `condition: 'args.customer_id == principal.claims.customer_id || "admin" in principal.roles'`,
		`condition: 'args.customer_id == principal.claimz.customer_id'`, 1)
	// A typo in an argument's name: checked against the tool's argument
	// schema at load, not a condition that silently denies every call.
	typoArg := strings.Replace(good, `condition: 'args.customer_id == principal.claims.customer_id`,
		`condition: 'args.custmer_id == principal.claims.customer_id`, 1)
	unknownTool := strings.Replace(good, "tools: [claims_status, payments_lookup, policy_update]", "tools: [claims_status, payments_lookup, policy_update, wire_money]", 1)
	for _, c := range []struct{ name, yaml, want string }{
		{"condition does not compile", badCond, "tools.payments_lookup.condition: 1:"},
		{"condition names an argument the tool does not have", typoArg, "tools.payments_lookup.condition: 1:5: undefined field 'custmer_id' (the tool's arguments are: customer_id)"},
		{"agent names an unknown tool", unknownTool, `agents.support_agent.tools[3]: unknown tool "wire_money"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.yaml")
			os.WriteFile(path, []byte(c.yaml), 0o600)
			var out, errb syncBuffer
			err := run(context.Background(), []string{"config", "check", path}, func(k string) string { return g.env[k] }, nil, &out, &errb)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("config check: %v, want it to name %q", err, c.want)
			}
			g.writeConfig(c.yaml)
			r := g.do("POST", "/admin/reload", "admin", nil)
			if r.status != 400 || !strings.Contains(r.raw, strings.SplitN(c.want, ":", 2)[0]) {
				t.Fatalf("reload: %d %s", r.status, r.raw)
			}
			// The old policy keeps serving: the customer is still held to its own payments.
			r = g.do("POST", "/v1/chat", "customer", map[string]string{"message": `CALL payments_lookup {"customer_id":"C-200"}`})
			if calls := toolCalls(t, r); r.status != 200 || len(calls) != 1 || calls[0]["decision"] != "deny" {
				t.Fatalf("after refused reload: %d %s", r.status, r.raw)
			}
		})
	}
	g.writeConfig(good)
	path := filepath.Join(t.TempDir(), "good.yaml")
	os.WriteFile(path, []byte(good), 0o600)
	var out, errb syncBuffer
	if err := run(context.Background(), []string{"config", "check", path}, func(k string) string { return g.env[k] }, nil, &out, &errb); err != nil || !strings.Contains(out.String(), ": ok") {
		t.Fatalf("good config: %v %s", err, out.String())
	}
}

func TestChat_HTTPToolFromConfig(t *testing.T) {
	var hits atomic.Int64
	var seen http.Header
	var path string
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		seen, path = r.Header.Clone(), r.URL.EscapedPath()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"name":"Ada Moreau","tier":"gold"}`)
	}))
	defer backend.Close()
	extra := fmt.Sprintf(`  crm_lookup: {type: http, method: GET, url: "%s/customers/{customer_id}", headers: {Authorization: "Bearer ${CRM_TOKEN}"},
               permission: claims.read, description: "CRM lookup",
               parameters: {type: object, properties: {customer_id: {type: string}}, required: [customer_id]}}`, backend.URL)
	g := startGateway(t, gwOptions{script: callScript, extraYAML: extra, env: map[string]string{"CRM_TOKEN": "crm-secret-123"},
		config: func(g *gateway) string {
			c := g.renderConfig(allUsers, gwOptions{extraYAML: extra})
			return strings.Replace(c, "tools: [claims_status, payments_lookup, policy_update]", "tools: [claims_status, payments_lookup, policy_update, crm_lookup]", 1)
		}})
	r := g.do("POST", "/v1/chat", "agent", map[string]string{"message": `CALL crm_lookup {"customer_id":"C-100.v2"}`})
	if r.status != 200 || hits.Load() != 1 {
		t.Fatalf("%d hits=%d %s", r.status, hits.Load(), r.raw)
	}
	if seen.Get("Authorization") != "Bearer crm-secret-123" || seen.Get("X-Gatehouse-Subject") != "agent" {
		t.Errorf("backend headers %v", seen)
	}
	if path != "/customers/C-100.v2" {
		t.Errorf("backend path %q, want the argument as one segment", path)
	}
	if !strings.Contains(r.str("response"), "gold") {
		t.Errorf("response %s", r.str("response"))
	}
	// An argument a decoding backend could read as another path never
	// leaves gatehouse; the model hears that the call failed.
	r = g.do("POST", "/v1/chat", "agent", map[string]string{"message": `CALL crm_lookup {"customer_id":"../admin%2Fx"}`})
	calls := toolCalls(t, r)
	if r.status != 200 || hits.Load() != 1 || len(calls) != 1 || calls[0]["decision"] != "allow" || calls[0]["status"] != "error" {
		t.Fatalf("path-changing argument: %d hits=%d %s", r.status, hits.Load(), r.raw)
	}
	if strings.Contains(g.stderr.String(), "crm-secret-123") || strings.Contains(r.raw, "crm-secret-123") {
		t.Error("the secret header leaked")
	}
}

// TestDevConfig_RoleToolArgumentMatrix runs every dev-config role against
// every tool with allowed and forbidden arguments.
func TestDevConfig_RoleToolArgumentMatrix(t *testing.T) {
	g := startGateway(t, gwOptions{script: callScript, config: func(g *gateway) string {
		var users []config.DevUser
		for _, u := range config.DevUsers() {
			if g.hashes[u.Name] == "" { // the supervisor
				k, h, err := authn.NewKey()
				if err != nil {
					t.Fatal(err)
				}
				g.keys[u.Name], g.hashes[u.Name] = k, h
			}
			u.Hash = g.hashes[u.Name]
			users = append(users, u)
		}
		y, err := config.DevYAML(g.dir, users)
		if err != nil {
			t.Fatal(err)
		}
		key, err := devkey.LoadOrCreate(g.dir)
		if err != nil {
			t.Fatal(err)
		}
		jwks, _ := key.PublicJWKS()
		if err := os.WriteFile(filepath.Join(g.dir, "dev-jwks.json"), jwks, 0o600); err != nil {
			t.Fatal(err)
		}
		s := strings.Replace(string(y), "provider: offline", "provider: openai", 1)
		s = strings.Replace(s, `base_url: ""`, fmt.Sprintf("base_url: %q", g.upstreamURL), 1)
		return strings.Replace(s, "api_key_env: OPENAI_API_KEY", "api_key_env: TEST_OPENAI_KEY", 1)
	}})
	type cell struct{ decision, status string } // decision "" = the endpoint refuses (403)
	calls := []struct {
		name, tool, args string
		viewer, agent    cell
		admin, customer  cell
	}{
		{"own claim", "claims_status", `{"claim_id":"CLM-1001"}`, cell{}, cell{"allow", "ok"}, cell{"allow", "ok"}, cell{"allow", "ok"}},
		{"other's claim", "claims_status", `{"claim_id":"CLM-1002"}`, cell{}, cell{"allow", "ok"}, cell{"allow", "ok"}, cell{"allow", "error"}},
		{"bad claim id", "claims_status", `{"claim_id":"CLM-1001; DROP"}`, cell{}, cell{"deny", "invalid_arguments"}, cell{"deny", "invalid_arguments"}, cell{"deny", "invalid_arguments"}},
		{"own payments", "payments_lookup", `{"customer_id":"C-100"}`, cell{}, cell{"deny", "denied"}, cell{"allow", "ok"}, cell{"allow", "ok"}},
		{"other's payments", "payments_lookup", `{"customer_id":"C-200"}`, cell{}, cell{"deny", "denied"}, cell{"allow", "ok"}, cell{"deny", "denied"}},
		// Allowed for admin, and then held for a supervisor's approval (202).
		{"set status", "policy_update", `{"policy_id":"POL-501","field":"status","value":"active"}`, cell{}, cell{"deny", "denied"}, cell{"pending", "awaiting_approval"}, cell{"deny", "denied"}},
		{"set a field that is not allowed", "policy_update", `{"policy_id":"POL-501","field":"customer_id","value":"C-100"}`, cell{}, cell{"deny", "denied"}, cell{"deny", "invalid_arguments"}, cell{"deny", "denied"}},
		{"unknown tool", "wire_money", `{}`, cell{}, cell{"deny", "denied"}, cell{"deny", "denied"}, cell{"deny", "denied"}},
	}
	for _, c := range calls {
		for _, u := range []struct {
			user string
			want cell
		}{{"viewer", c.viewer}, {"agent", c.agent}, {"admin", c.admin}, {"customer", c.customer}} {
			t.Run(c.name+"/"+u.user, func(t *testing.T) {
				r := g.do("POST", "/v1/chat", u.user, map[string]string{"message": "CALL " + c.tool + " " + c.args})
				if u.want.decision == "" {
					if r.status != 403 {
						t.Fatalf("status %d, want 403", r.status)
					}
					return
				}
				got := toolCalls(t, r)
				wantStatus := 200
				if u.want.status == "awaiting_approval" {
					wantStatus = 202
				}
				if r.status != wantStatus || len(got) != 1 || got[0]["decision"] != u.want.decision || got[0]["status"] != u.want.status {
					t.Fatalf("got %d %v, want %v", r.status, got, u.want)
				}
			})
		}
	}
}

func TestChat_LimitsEndTheRunWithAClearError(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	extra := fmt.Sprintf(`  slow_lookup: {type: http, url: "%s/x", permission: claims.read, description: "slow"}`, slow.URL)
	agentCfg := "tools: [claims_status, payments_lookup, policy_update, slow_lookup]\n    max_tool_calls: 6\n    tool_timeout: 300ms"
	script := func(n int, req *llmtest.Request) llmtest.Reply {
		msg := req.Messages[1].Text() // the user's message: which limit to hit
		claim := llmtest.Call(fmt.Sprintf("c%d", n), "claims_status", `{"claim_id":"CLM-1001"}`)
		switch msg {
		case "rounds":
			return llmtest.Reply{ToolCalls: []llmtest.ToolCall{claim}}
		case "calls":
			return llmtest.Reply{ToolCalls: []llmtest.ToolCall{claim, claim, claim, claim}}
		case "timeout":
			return llmtest.Reply{ToolCalls: []llmtest.ToolCall{llmtest.Call("s", "slow_lookup", `{}`)}}
		}
		return llmtest.Reply{Content: "?"}
	}
	g := startGateway(t, gwOptions{script: script, config: func(g *gateway) string {
		c := g.renderConfig(allUsers, gwOptions{extraYAML: extra})
		return strings.Replace(c, "tools: [claims_status, payments_lookup, policy_update]", agentCfg, 1)
	}})
	for _, c := range []struct{ msg, want string }{
		{"rounds", "max_tool_rounds (4)"},
		{"calls", "max_tool_calls (6)"},
		{"timeout", "tool slow_lookup ran longer than tool_timeout (300ms)"},
	} {
		t.Run(c.msg, func(t *testing.T) {
			start := time.Now()
			r := g.do("POST", "/v1/chat", "agent", map[string]string{"message": c.msg})
			if r.status != 422 || r.str("error") != "run_limit" || !strings.Contains(r.str("detail"), c.want) || r.str("run_id") == "" {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			if time.Since(start) > 3*time.Second {
				t.Errorf("took %v", time.Since(start))
			}
		})
	}
}
