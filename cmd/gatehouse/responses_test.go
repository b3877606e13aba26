package main

import (
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/llm/llmtest"
)

// The Responses API through the official `openai` package and the Agents
// SDK in its default mode (test/interop/responses.mjs), then the audit log
// of those runs, verified with `gatehouse audit verify`.
func TestInterop_ResponsesOpenAISDKAndAgentsSDK(t *testing.T) {
	g := startGateway(t, gwOptions{script: interopScript, config: openAIConfig("")})
	lines := runNode(t, "responses.mjs", map[string]string{
		"GATEHOUSE_BASE": g.base + "/v1", "KEY_AGENT": g.keys["agent"], "KEY_ADMIN": g.keys["admin"], "KEY_CUSTOMER": g.keys["customer"],
		"KEY_VIEWER": g.keys["viewer"], "PT_MODEL": "gpt-test", "AGENT_MODEL": "support_agent",
	})
	if findCase(lines, "ok") == nil {
		t.Fatalf("the interop script did not finish: %v", lines)
	}
	var errs []string
	for _, l := range lines {
		if l["case"] == "error" {
			errs = append(errs, l["name"].(string))
		}
	}
	if len(errs) < 25 {
		t.Errorf("%d error paths checked (%v), want 25", len(errs), errs)
	}
	evs := openAuditLog(t, sqliteAuditDSN(g)).all()
	// The Agents SDK offers wire_money as agent (who may not use it): it
	// was removed from the offer, and refused when the model asked anyway.
	var removed, refusedHidden bool
	for _, e := range evs {
		removed = removed || e.Type == audit.TypeRunStarted && e.Subject == "agent" && strings.Contains(e.Reason, `removed: ["wire_money"]`)
		refusedHidden = refusedHidden || e.Type == audit.TypeToolDecided && e.Subject == "agent" && e.Resource == "tool:wire_money" &&
			e.Decision == audit.Deny && e.Rule == "tool not offered"
	}
	if !removed || !refusedHidden {
		t.Errorf("wire_money: removed from the offer %v, refused when proposed %v", removed, refusedHidden)
	}

	byRun := func(run string) []audit.Event {
		var out []audit.Event
		for _, e := range evs {
			if e.RunID == run {
				out = append(out, e)
			}
		}
		return out
	}
	pt := findCase(lines, "passthrough-create")
	run := byRun(pt["run_id"].(string))
	if len(run) < 3 || run[0].Type != audit.TypeRunStarted || run[0].Resource != "model:gpt-test" || run[0].Subject != "agent" ||
		run[1].Type != audit.TypeToolDecided || run[1].Decision != audit.Allow || run[len(run)-1].Type != audit.TypeRunFinished {
		t.Fatalf("the Responses pass-through run = %+v", run)
	}
	var reported int
	for _, e := range evs {
		if e.Type == audit.TypeToolFinished && e.Outcome == "reported" && strings.Contains(e.Reason, pt["call_id"].(string)) {
			reported++
		}
	}
	// Answered on the stored response and again by the client holding the
	// conversation: recorded once.
	if reported != 1 {
		t.Errorf("the call's output was recorded %d times, want once", reported)
	}
	ref := byRun(findCase(lines, "passthrough-refused")["run_id"].(string))
	if last := ref[len(ref)-1]; last.Type != audit.TypeRunFinished || last.Outcome != "refused" {
		t.Errorf("a refused Responses run ends with %+v", last)
	}
	var held, denied bool
	for _, e := range evs {
		held = held || e.Type == audit.TypeApprovalRequested && e.Resource == "tool:pay_invoice"
		denied = denied || e.Type == audit.TypeSessionDenied && e.Resource == "response:"+pt["response_id"].(string)
	}
	if !held || !denied {
		t.Errorf("approval.requested for pay_invoice %v; another caller's read of a stored response recorded %v", held, denied)
	}
	if out, err := runAuditCmd(t, g.env, "verify", "--config", g.cfgPath); err != nil || !strings.HasPrefix(out, "ok: ") {
		t.Fatalf("gatehouse audit verify = %q, %v", out, err)
	}
}

// A call needing approval on the Responses API is held as on Chat
// Completions, released once approved, and its output then accepted.
func TestResponses_HeldCallIsReleasedOnceApproved(t *testing.T) {
	script := func(n int, req *llmtest.Request) llmtest.Reply {
		if req.Last().Role == "tool" {
			return llmtest.Reply{Content: "done: " + req.Last().Text()}
		}
		return llmtest.Reply{ToolCalls: []llmtest.ToolCall{llmtest.Call("up_1", "send_email", `{"to":"bob@bank.example","subject":"hi","body":"see you"}`)}}
	}
	g := startGateway(t, gwOptions{script: script, config: approvalConfig})
	tools := []any{map[string]any{"type": "function", "name": "send_email", "parameters": map[string]any{"type": "object"}}}
	r := g.do("POST", "/v1/responses", "agent", map[string]any{"model": "gpt-test", "tools": tools, "input": "mail bob"})
	gh, _ := r.body["gatehouse"].(map[string]any)
	if r.status != 200 || gh["status"] != "awaiting_approval" || strings.Contains(r.raw, `"type":"function_call"`) {
		t.Fatalf("= %d %s", r.status, r.raw)
	}
	a := gh["approvals"].([]any)[0].(map[string]any)
	if r := g.do("POST", "/v1/approvals/"+a["id"].(string), "viewer", map[string]string{"decision": "approve", "args_sha256": a["args_sha256"].(string)}); r.status != 200 {
		t.Fatalf("approve = %d %s", r.status, r.raw)
	}
	done := waitRun(t, g, "agent", gh["run_id"].(string))
	calls, _ := done.body["tool_calls"].([]any)
	if done.str("status") != "completed" || len(calls) != 1 || calls[0].(map[string]any)["status"] != "released" {
		t.Fatalf("run = %s", done.raw)
	}
	c := calls[0].(map[string]any)
	r = g.do("POST", "/v1/responses", "agent", map[string]any{"model": "gpt-test", "tools": tools, "input": []any{
		map[string]any{"role": "user", "content": "mail bob"},
		map[string]any{"type": "function_call", "call_id": c["id"], "name": "send_email", "arguments": c["arguments"]},
		map[string]any{"type": "function_call_output", "call_id": c["id"], "output": "sent"},
	}})
	if r.status != 200 || !strings.Contains(r.raw, "done: sent") {
		t.Fatalf("the released call's output = %d %s", r.status, r.raw)
	}
}

// A stored conversation is bounded like a session: continuing one at
// sessions.max_messages is 409 session_full; store: false keeps nothing
// to continue.
func TestResponses_StoredConversationIsBoundedLikeASession(t *testing.T) {
	cfg := func(g *gateway) string {
		return strings.Replace(openAIConfig("")(g), "sessions:\n  dsn:", "sessions:\n  max_messages: 2\n  dsn:", 1)
	}
	g := startGateway(t, gwOptions{script: interopScript, config: cfg})
	r1 := g.do("POST", "/v1/responses", "agent", map[string]any{"model": "gpt-test", "input": "hello"})
	if r1.status != 200 {
		t.Fatalf("= %d %s", r1.status, r1.raw)
	}
	r2 := g.do("POST", "/v1/responses", "agent", map[string]any{"model": "gpt-test", "input": "again", "previous_response_id": r1.str("id")})
	if r2.status != 409 || !strings.Contains(r2.raw, `"code":"session_full"`) {
		t.Errorf("continuing a full conversation = %d %s", r2.status, r2.raw)
	}
	r3 := g.do("POST", "/v1/responses", "agent", map[string]any{"model": "gpt-test", "input": "hello", "store": false})
	if r := g.do("GET", "/v1/responses/"+r3.str("id"), "agent", nil); r3.status != 200 || r.status != 404 {
		t.Errorf("store: false = %d, then GET = %d %s", r3.status, r.status, r.raw)
	}
}
