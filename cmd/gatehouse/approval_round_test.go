package main

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/llm/llmtest"
	"github.com/gatehousehq/gatehouse/internal/store/storetest"
)

// approvalConfig makes policy_update and send_email need a viewer's
// approval (viewer: the test config's approver role).
func approvalConfig(g *gateway) string {
	cfg := openAIConfig("")(g)
	cfg = strings.Replace(cfg, "policy_update:   {type: builtin, permission: policy.write}",
		"policy_update:   {type: builtin, permission: policy.write, approval: {approvers: [viewer], when: 'args.field == \"status\" || args.value != \"1\"'}}", 1)
	cfg = strings.Replace(cfg, `condition: 'args.to.endsWith("@bank.example")',`,
		`condition: 'args.to.endsWith("@bank.example")', approval: {approvers: [viewer]},`, 1)
	return cfg
}

func TestApproval_SeveralCallsOfOneRoundAwaitTogether(t *testing.T) {
	var mu sync.Mutex
	var toolMsgs []string
	script := func(n int, req *llmtest.Request) llmtest.Reply {
		last := req.Last()
		if last.Role == "tool" {
			mu.Lock()
			for _, m := range req.Messages {
				if m.Role == "tool" {
					toolMsgs = append(toolMsgs, m.ToolCallID+"="+m.Text())
				}
			}
			mu.Unlock()
			return llmtest.Reply{Content: "Done as far as approved."}
		}
		return llmtest.Reply{ToolCalls: []llmtest.ToolCall{
			llmtest.Call("c1", "policy_update", `{"policy_id":"POL-500","field":"status","value":"lapsed"}`),
			llmtest.Call("c2", "policy_update", `{"policy_id":"POL-500","field":"premium","value":"999"}`),
			llmtest.Call("c3", "claims_status", `{"claim_id":"CLM-1001"}`),
			// when is false for this one: it runs without approval.
			llmtest.Call("c4", "policy_update", `{"policy_id":"POL-501","field":"premium","value":"1"}`),
		}}
	}
	g := startGateway(t, gwOptions{script: script, config: approvalConfig})
	r := g.do("POST", "/v1/chat", "admin", map[string]string{"message": "update things"})
	as := approvalsOf(t, r)
	if r.status != 202 || len(as) != 2 || as[0]["arguments"] != `{"field":"status","policy_id":"POL-500","value":"lapsed"}` {
		t.Fatalf("= %d %s", r.status, r.raw)
	}
	runID := r.str("run_id")
	if got := policyField(t, g.dir, "POL-501", "premium"); got != "1" && got != "1.0" && got != "1.00" {
		t.Errorf("the call without approval did not run: premium %s", got)
	}
	if r := g.do("POST", "/v1/approvals/"+as[0]["id"].(string), "viewer", map[string]string{"decision": "approve", "args_sha256": as[0]["args_sha256"].(string)}); r.status != 200 {
		t.Fatalf("approve = %d %s", r.status, r.raw)
	}
	if s := g.do("GET", "/v1/runs/"+runID, "admin", nil); s.str("status") != "awaiting_approval" {
		t.Fatalf("with one approval pending the run = %s", s.raw)
	}
	if r := g.do("POST", "/v1/approvals/"+as[1]["id"].(string), "viewer", map[string]string{"decision": "deny", "args_sha256": as[1]["args_sha256"].(string), "comment": "too high"}); r.status != 200 {
		t.Fatalf("deny = %d %s", r.status, r.raw)
	}
	done := waitRun(t, g, "admin", runID)
	if done.str("status") != "completed" || done.str("response") != "Done as far as approved." {
		t.Fatalf("run = %s", done.raw)
	}
	if got := policyField(t, g.dir, "POL-500", "status"); got != "lapsed" {
		t.Errorf("approved call: status %s", got)
	}
	if got := policyField(t, g.dir, "POL-500", "premium"); got == "999" {
		t.Error("the denied call ran")
	}
	mu.Lock()
	defer mu.Unlock()
	joined := strings.Join(toolMsgs, "\n")
	if !strings.Contains(joined, "c2=") || !strings.Contains(joined, "not_approved") || !strings.Contains(joined, "too high") || !strings.Contains(joined, "c3=") {
		t.Errorf("the model was not told: %s", joined)
	}
}

// sendEmailTools is a client's tool list offering send_email.
var sendEmailTools = []map[string]any{{"type": "function", "function": map[string]any{"name": "send_email", "parameters": map[string]any{
	"type": "object", "required": []string{"to", "subject", "body"},
	"properties": map[string]any{"to": map[string]string{"type": "string"}, "subject": map[string]string{"type": "string"}, "body": map[string]string{"type": "string"}}}}}}

func TestApproval_PassthroughClientCallIsHeldThenReleased(t *testing.T) {
	script := func(n int, req *llmtest.Request) llmtest.Reply {
		return llmtest.Reply{ToolCalls: []llmtest.ToolCall{llmtest.Call("up_1", "send_email", `{"to":"bob@bank.example","subject":"hi","body":"see you"}`)}}
	}
	g := startGateway(t, gwOptions{script: script, config: approvalConfig})
	tools := sendEmailTools
	r := g.do("POST", "/v1/chat/completions", "agent", map[string]any{"model": "gpt-test", "tools": tools,
		"messages": []map[string]string{{"role": "user", "content": "mail bob"}}})
	gh, _ := r.body["gatehouse"].(map[string]any)
	choices, _ := r.body["choices"].([]any)
	if r.status != 200 || gh["status"] != "awaiting_approval" || len(choices) != 1 {
		t.Fatalf("= %d %s", r.status, r.raw)
	}
	msg := choices[0].(map[string]any)["message"].(map[string]any)
	if msg["tool_calls"] != nil || !strings.Contains(msg["content"].(string), "awaits human approval") {
		t.Fatalf("a held call reached the client: %s", r.raw)
	}
	a := gh["approvals"].([]any)[0].(map[string]any)
	runID := gh["run_id"].(string)
	if r := g.do("POST", "/v1/approvals/"+a["id"].(string), "agent", map[string]string{"decision": "approve", "args_sha256": a["args_sha256"].(string)}); r.status != 403 {
		t.Errorf("self-approval = %d", r.status)
	}
	if r := g.do("POST", "/v1/approvals/"+a["id"].(string), "viewer", map[string]string{"decision": "approve", "args_sha256": a["args_sha256"].(string)}); r.status != 200 {
		t.Fatalf("approve = %d %s", r.status, r.raw)
	}
	done := waitRun(t, g, "agent", runID)
	calls, _ := done.body["tool_calls"].([]any)
	if done.str("status") != "completed" || len(calls) != 1 || calls[0].(map[string]any)["status"] != "released" {
		t.Fatalf("run = %s", done.raw)
	}
	c := calls[0].(map[string]any)
	// The released call is the client's to run: its result is accepted.
	r = g.do("POST", "/v1/chat/completions", "agent", map[string]any{"model": "gpt-test", "tools": tools, "messages": []map[string]any{
		{"role": "user", "content": "mail bob"},
		{"role": "assistant", "tool_calls": []map[string]any{{"id": c["id"], "type": "function", "function": map[string]any{"name": "send_email", "arguments": c["arguments"]}}}},
		{"role": "tool", "tool_call_id": c["id"], "content": "sent"},
	}})
	if r.status != 200 {
		t.Fatalf("the released call's result = %d %s", r.status, r.raw)
	}
}

func TestApproval_AResumedRunCanWaitAgain(t *testing.T) {
	script := func(n int, req *llmtest.Request) llmtest.Reply {
		tools := 0
		for _, m := range req.Messages {
			if m.Role == "tool" {
				tools++
			}
		}
		switch tools {
		case 0:
			return llmtest.Reply{ToolCalls: []llmtest.ToolCall{llmtest.Call("a", "policy_update", `{"policy_id":"POL-500","field":"status","value":"lapsed"}`)}}
		case 1:
			return llmtest.Reply{ToolCalls: []llmtest.ToolCall{llmtest.Call("b", "policy_update", `{"policy_id":"POL-501","field":"status","value":"lapsed"}`)}}
		}
		return llmtest.Reply{Content: "Both done."}
	}
	g := startGateway(t, gwOptions{script: script, config: approvalConfig})
	r := g.do("POST", "/v1/chat", "admin", map[string]string{"message": "lapse both"})
	as := approvalsOf(t, r)
	if r.status != 202 || len(as) != 1 {
		t.Fatalf("= %d %s", r.status, r.raw)
	}
	runID := r.str("run_id")
	approve := func(a map[string]any) {
		t.Helper()
		if r := g.do("POST", "/v1/approvals/"+a["id"].(string), "viewer", map[string]string{"decision": "approve", "args_sha256": a["args_sha256"].(string)}); r.status != 200 {
			t.Fatalf("approve = %d %s", r.status, r.raw)
		}
	}
	approve(as[0])
	var second map[string]any
	for deadline := time.Now().Add(20 * time.Second); second == nil && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, a := range approvalsOf(t, g.do("GET", "/v1/approvals", "viewer", nil)) {
			if a["run_id"] == runID {
				second = a
			}
		}
	}
	if second == nil || !strings.Contains(second["arguments"].(string), "POL-501") {
		t.Fatalf("no second approval: %v", second)
	}
	if got := policyField(t, g.dir, "POL-500", "status"); got != "lapsed" {
		t.Errorf("the first approved call did not run: %s", got)
	}
	if got := policyField(t, g.dir, "POL-501", "status"); got == "lapsed" {
		t.Error("the second call ran before approval")
	}
	approve(second)
	if done := waitRun(t, g, "admin", runID); done.str("status") != "completed" || done.str("response") != "Both done." {
		t.Fatalf("run = %s", done.raw)
	}
	if got := policyField(t, g.dir, "POL-501", "status"); got != "lapsed" {
		t.Errorf("the second approved call did not run: %s", got)
	}
}

// Two replicas on one PostgreSQL: a run paused on one is listed and
// decided on the other; of approvers racing on both, exactly one wins,
// and the call runs once.
func TestApproval_TwoReplicasOnPostgresRunTheCallOnce(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	script := func(n int, req *llmtest.Request) llmtest.Reply {
		if req.Last().Role == "tool" {
			return llmtest.Reply{Content: "Lapsed."}
		}
		return llmtest.Reply{ToolCalls: []llmtest.ToolCall{llmtest.Call("a", "policy_update", `{"policy_id":"POL-500","field":"status","value":"lapsed"}`)}}
	}
	var shared string
	onPostgres := func(g *gateway) string {
		if shared == "" {
			c := approvalConfig(g)
			c = strings.Replace(c, "sqlite://"+g.dir+"/audit.db", dsn, 1)
			shared = strings.Replace(c, "sqlite://"+g.dir+"/sessions.db", dsn, 1)
		}
		return shared
	}
	a := startGateway(t, gwOptions{script: script, config: onPostgres})
	b := startGateway(t, gwOptions{script: script, config: onPostgres})
	b.keys = a.keys
	r := a.do("POST", "/v1/chat", "admin", map[string]string{"message": "lapse it"})
	as := approvalsOf(t, r)
	if r.status != 202 || len(as) != 1 {
		t.Fatalf("= %d %s", r.status, r.raw)
	}
	runID := r.str("run_id")
	if l := approvalsOf(t, b.do("GET", "/v1/approvals", "viewer", nil)); len(l) != 1 || l[0]["id"] != as[0]["id"] {
		t.Fatalf("the other replica lists %v", l)
	}
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for i := range 8 {
		g := a
		if i%2 == 1 {
			g = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := g.do("POST", "/v1/approvals/"+as[0]["id"].(string), "viewer", map[string]string{"decision": "approve", "args_sha256": as[0]["args_sha256"].(string)})
			mu.Lock()
			statuses[r.status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if statuses[200] != 1 || statuses[410] != 7 {
		t.Fatalf("statuses = %v, want one 200 and seven 410", statuses)
	}
	if done := waitRun(t, b, "admin", runID); done.str("status") != "completed" || done.str("response") != "Lapsed." {
		t.Fatalf("run = %s", done.raw)
	}
	time.Sleep(1500 * time.Millisecond) // sweeps on both: nothing resumes it again
	if n := len(auditEvents(t, a, runID, "tool.finished")); n != 1 {
		t.Errorf("the tool finished %d times across both replicas, want 1", n)
	}
	if n := len(auditEvents(t, a, runID, "run.resumed")); n != 1 {
		t.Errorf("the run resumed %d times, want 1", n)
	}
	if got := policyField(t, a.dir, "POL-500", "status"); got != "lapsed" {
		t.Errorf("status = %s", got)
	}
}
