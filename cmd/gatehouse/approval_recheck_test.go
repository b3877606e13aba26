package main

import (
	"os"
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse/internal/llm/llmtest"
)

// A held pass-through call is decided again when its approval comes: the
// permission was revoked by a reload while it waited, so the approval does
// not release it, and the client cannot answer it.
func TestApproval_PassthroughCallRevokedWhileHeldIsNotReleased(t *testing.T) {
	script := func(n int, req *llmtest.Request) llmtest.Reply {
		return llmtest.Reply{ToolCalls: []llmtest.ToolCall{llmtest.Call("up_1", "send_email", `{"to":"bob@bank.example","subject":"hi","body":"wire"}`)}}
	}
	g := startGateway(t, gwOptions{script: script, config: approvalConfig})
	tools := sendEmailTools
	r := g.do("POST", "/v1/chat/completions", "agent", map[string]any{"model": "gpt-test", "tools": tools,
		"messages": []map[string]string{{"role": "user", "content": "mail bob"}}})
	gh, _ := r.body["gatehouse"].(map[string]any)
	if r.status != 200 || gh["status"] != "awaiting_approval" {
		t.Fatalf("= %d %s", r.status, r.raw)
	}
	a := gh["approvals"].([]any)[0].(map[string]any)
	runID := gh["run_id"].(string)

	// The agent role loses email.send while the call waits.
	b, err := os.ReadFile(g.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	revoked := strings.Replace(string(b), "agent: [read, respond, claims.read, llm.use, email.send]", "agent: [read, respond, claims.read, llm.use]", 1)
	if revoked == string(b) {
		t.Fatal("the config has no agent role line to change")
	}
	g.writeConfig(revoked)
	if r := g.do("POST", "/admin/reload", "admin", nil); r.status != 200 {
		t.Fatalf("reload = %d %s", r.status, r.raw)
	}
	if r := g.do("POST", "/v1/approvals/"+a["id"].(string), "viewer", map[string]string{"decision": "approve", "args_sha256": a["args_sha256"].(string)}); r.status != 200 {
		t.Fatalf("approve = %d %s", r.status, r.raw)
	}
	done := waitRun(t, g, "agent", runID)
	calls, _ := done.body["tool_calls"].([]any)
	if done.str("status") != "completed" || len(calls) != 1 {
		t.Fatalf("run = %s", done.raw)
	}
	c := calls[0].(map[string]any)
	if c["status"] == "released" || c["decision"] != "deny" || !strings.Contains(c["reason"].(string), "email.send") {
		t.Fatalf("a call whose permission was revoked was released: %v", c)
	}
	decided := auditEvents(t, g, runID, "tool.decided")
	if len(decided) != 1 || decided[0]["decision"] != "deny" {
		t.Errorf("tool.decided after approval = %v", decided)
	}
	r = g.do("POST", "/v1/chat/completions", "agent", map[string]any{"model": "gpt-test", "messages": []map[string]any{
		{"role": "user", "content": "mail bob"},
		{"role": "assistant", "tool_calls": []map[string]any{{"id": c["id"], "type": "function", "function": map[string]any{"name": "send_email", "arguments": c["arguments"]}}}},
		{"role": "tool", "tool_call_id": c["id"], "content": "sent"},
	}})
	if r.status != 400 {
		t.Fatalf("answering a call that was never released = %d %s", r.status, r.raw)
	}
}
