package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gatehousehq/gatehouse/internal/gate"
)

// doorAnswer is what a door told its caller about one call.
type doorAnswer struct {
	verdict string // allow | deny | approval
	// rule, when the door answers with one that is not recorded (explain).
	rule string
	// released: the call reached the client, which ran it (pass-through).
	released bool
}

// doorDriver sends one call of tool with args through a door, as user
// agent, the way a real client of that door does.
type doorDriver func(t *testing.T, w *doorWorld, tool, args string) doorAnswer

// doorDrivers drives every door of gate.Doors, by name.
var doorDrivers = map[string]doorDriver{
	gate.DoorAgent.Name():       driveAgent,
	gate.DoorPassthrough.Name(): drivePassthrough,
	gate.DoorResponses.Name():   driveResponses,
	gate.DoorMCPCall.Name():     driveMCPCall,
	gate.DoorMCPAsk.Name():      driveMCPAsk,
	gate.DoorExplain.Name():     driveExplain,
}

// driveAgent: POST /v1/chat; the scripted model proposes the call.
func driveAgent(t *testing.T, w *doorWorld, tool, args string) doorAnswer {
	r := w.g.do("POST", "/v1/chat", "agent", map[string]string{"message": "CALL " + tool + " " + args})
	if r.status == 202 && r.str("status") == gate.StatusAwaitingApproval {
		return doorAnswer{verdict: "approval"}
	}
	calls := toolCalls(t, r)
	if r.status != 200 || len(calls) != 1 {
		t.Fatalf("/v1/chat: %d %s", r.status, r.raw)
	}
	return doorAnswer{verdict: calls[0]["decision"].(string)}
}

// clientTool is a client tool as a client's request declares it.
func clientTool(name string) map[string]any {
	params := map[string]string{
		"send_c":  `{"type":"object","required":["to","amount"],"properties":{"to":{"type":"string"},"amount":{"type":"number"}}}`,
		"vault_c": `{"type":"object","required":["box"],"properties":{"box":{"type":"string"}}}`,
	}[name]
	return map[string]any{"type": "function", "function": map[string]any{"name": name, "parameters": json.RawMessage(params)}}
}

// drivePassthrough: POST /v1/chat/completions with a pass-through model and
// the client's own tools; the scripted model proposes the call. A call
// released to the client is run by it, and its result sent back.
func drivePassthrough(t *testing.T, w *doorWorld, tool, args string) doorAnswer {
	declared := tool
	if tool == "no_such_tool" { // undeclared tools are refused before the model
		declared = "send_c"
	}
	msgs := []map[string]any{{"role": "user", "content": "CALL " + tool + " " + args}}
	body := map[string]any{"model": "gpt-test", "messages": msgs, "tools": []any{clientTool(declared)}}
	r := w.g.do("POST", "/v1/chat/completions", "agent", body)
	gh, _ := r.body["gatehouse"].(map[string]any)
	if r.status != 200 || gh == nil {
		t.Fatalf("/v1/chat/completions: %d %s", r.status, r.raw)
	}
	if gh["status"] == gate.StatusAwaitingApproval {
		return doorAnswer{verdict: "approval"}
	}
	calls, _ := gh["tool_calls"].([]any)
	if len(calls) != 1 {
		t.Fatalf("gatehouse.tool_calls: %s", r.raw)
	}
	ans := doorAnswer{verdict: calls[0].(map[string]any)["decision"].(string)}
	msg := r.body["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)
	released, _ := msg["tool_calls"].([]any)
	if len(released) == 0 {
		return ans
	}
	// The client runs what it was given and answers with the result.
	ans.released = true
	id := released[0].(map[string]any)["id"].(string)
	body["messages"] = append(msgs, msg, map[string]any{"role": "tool", "tool_call_id": id, "content": `{"done":true}`})
	if r := w.g.do("POST", "/v1/chat/completions", "agent", body); r.status != 200 {
		t.Fatalf("the client's result: %d %s", r.status, r.raw)
	}
	return ans
}

// driveResponses: POST /v1/responses with a pass-through model and the
// client's own function tools; the scripted model proposes the call. A call
// released to the client is run by it, and its output sent back on the
// stored response (previous_response_id).
func driveResponses(t *testing.T, w *doorWorld, tool, args string) doorAnswer {
	declared := tool
	if tool == "no_such_tool" { // undeclared tools are refused before the model
		declared = "send_c"
	}
	fn := clientTool(declared)["function"].(map[string]any)
	tools := []any{map[string]any{"type": "function", "name": fn["name"], "parameters": fn["parameters"]}}
	body := map[string]any{"model": "gpt-test", "input": "CALL " + tool + " " + args, "tools": tools}
	r := w.g.do("POST", "/v1/responses", "agent", body)
	gh, _ := r.body["gatehouse"].(map[string]any)
	if r.status != 200 || gh == nil || r.header.Get("Gatehouse-Run-Id") != gh["run_id"] {
		t.Fatalf("/v1/responses: %d %s", r.status, r.raw)
	}
	if gh["status"] == gate.StatusAwaitingApproval {
		return doorAnswer{verdict: "approval"}
	}
	calls, _ := gh["tool_calls"].([]any)
	if len(calls) != 1 {
		t.Fatalf("gatehouse.tool_calls: %s", r.raw)
	}
	ans := doorAnswer{verdict: calls[0].(map[string]any)["decision"].(string)}
	var callID string
	for _, it := range r.body["output"].([]any) {
		if it := it.(map[string]any); it["type"] == "function_call" {
			callID = it["call_id"].(string)
		}
	}
	if callID == "" {
		return ans
	}
	// The client runs what it was given and answers with the output.
	ans.released = true
	next := map[string]any{"model": "gpt-test", "previous_response_id": r.body["id"], "tools": tools,
		"input": []any{map[string]any{"type": "function_call_output", "call_id": callID, "output": `{"done":true}`}}}
	if r := w.g.do("POST", "/v1/responses", "agent", next); r.status != 200 {
		t.Fatalf("the client's output: %d %s", r.status, r.raw)
	}
	return ans
}

// callMCP is tools/call over the caller's MCP session.
func callMCP(t *testing.T, w *doorWorld, tool string, args any) *mcp.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := w.mcp.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("tools/call %s: %v", tool, err)
	}
	return res
}

// awaitsApproval reports whether an MCP result says the call waits.
func awaitsApproval(res *mcp.CallToolResult) bool {
	b, _ := json.Marshal(res.StructuredContent)
	var st struct{ Status string }
	_ = json.Unmarshal(b, &st)
	return st.Status == gate.StatusAwaitingApproval
}

// driveMCPCall: /mcp tools/call with the go-sdk client.
func driveMCPCall(t *testing.T, w *doorWorld, tool, args string) doorAnswer {
	res := callMCP(t, w, tool, json.RawMessage(args))
	switch {
	case res.IsError:
		return doorAnswer{verdict: "deny"}
	case awaitsApproval(res):
		return doorAnswer{verdict: "approval"}
	}
	return doorAnswer{verdict: "allow"}
}

// driveMCPAsk: /mcp ask_support_agent; the agent's scripted model proposes
// the call and answers with what the tool said.
func driveMCPAsk(t *testing.T, w *doorWorld, tool, args string) doorAnswer {
	res := callMCP(t, w, "ask_support_agent", map[string]string{"message": "CALL " + tool + " " + args})
	if awaitsApproval(res) {
		return doorAnswer{verdict: "approval"}
	}
	if res.IsError || len(res.Content) != 1 {
		t.Fatalf("ask_support_agent: %+v", res)
	}
	text := res.Content[0].(*mcp.TextContent).Text
	if strings.Contains(text, `"error":"not_authorized"`) || strings.Contains(text, `"error":"invalid_arguments"`) {
		return doorAnswer{verdict: "deny"}
	}
	return doorAnswer{verdict: "allow"}
}

// driveExplain: POST /admin/authz/explain as admin, for the caller's role.
func driveExplain(t *testing.T, w *doorWorld, tool, args string) doorAnswer {
	r := w.g.do("POST", "/admin/authz/explain", "admin", map[string]any{"subject": "agent", "roles": []string{"agent"}, "tool": tool, "arguments": args})
	if r.status != 200 {
		t.Fatalf("explain: %d %s", r.status, r.raw)
	}
	return doorAnswer{verdict: r.str("decision"), rule: r.str("rule")}
}
