package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/llm/llmtest"
)

// openAIYAML adds, to the test config, client tools and a pass-through
// model: agent and admin may use it and send e-mail within the bank;
// only admin may wire money; customer may not use the model at all.
func openAIConfig(extraServer string) func(g *gateway) string {
	return func(g *gateway) string {
		cfg := g.renderConfig(allUsers, gwOptions{extraYAML: `  send_email: {type: client, permission: email.send,
                condition: 'args.to.endsWith("@bank.example")',
                description: "Send an e-mail",
                parameters: {type: object, required: [to, subject, body],
                             properties: {to: {type: string}, subject: {type: string}, body: {type: string}}}}
  wire_money: {type: client, permission: payments.write, description: "Wire money",
               parameters: {type: object, required: [account, amount],
                            properties: {account: {type: string}, amount: {type: number}}}}
  pay_invoice: {type: client, permission: email.send, approval: {approvers: [admin]}, description: "Pay an invoice",
                parameters: {type: object, required: [invoice], properties: {invoice: {type: string}}}}`})
		cfg = strings.Replace(cfg, "agent: [read, respond, claims.read]", "agent: [read, respond, claims.read, llm.use, email.send]", 1)
		cfg = strings.Replace(cfg, "admin: [read, respond, admin,", "admin: [read, respond, admin, llm.use, email.send, payments.write,", 1)
		cfg += `passthrough:
  models: {gpt-test: {permission: llm.use, upstream: test-model}}
  max_retries: 2
`
		return cfg + extraServer
	}
}

var emailTo = regexp.MustCompile(`PLEASE_EMAIL (\S+)`)

// interopScript is the upstream model of the OpenAI interop tests. It acts
// on markers in the conversation's first user message, and insists on a
// refused call (the pass-through must still never release it).
func interopScript(_ int, req *llmtest.Request) llmtest.Reply {
	var user string
	for _, m := range req.Messages {
		if m.Role == "user" {
			user = m.Text()
			break
		}
	}
	last := req.Last()
	switch {
	case strings.Contains(user, "UPSTREAM_FAIL"):
		return llmtest.Reply{Status: 500}
	case strings.Contains(user, "LOOP"):
		// Some content first, so a streamed run fails after it started.
		return llmtest.Reply{Content: "Checking again. ", ToolCalls: []llmtest.ToolCall{llmtest.Call("call_loop", "claims_status", `{"claim_id":"CLM-1001"}`)}}
	case last.Role == "tool" && strings.Contains(last.Text(), `"error"`):
		// Insist: propose the refused turn again.
		for i := len(req.Messages) - 1; i >= 0; i-- {
			if m := req.Messages[i]; m.Role == "assistant" && len(m.ToolCalls) > 0 {
				return llmtest.Reply{ToolCalls: m.ToolCalls}
			}
		}
	case last.Role == "tool" && strings.Contains(last.Text(), `"claim_id":"CLM-1001"`):
		return llmtest.Reply{Content: "Claim CLM-1001 is in review.", Chunks: []string{"Claim ", "CLM-1001 ", "is in review."}}
	case last.Role == "tool":
		return llmtest.Reply{Content: "done: " + last.Text()}
	}
	switch m := emailTo.FindStringSubmatch(user); {
	case m != nil:
		return llmtest.Reply{Content: "Sending it now.", ToolCalls: []llmtest.ToolCall{
			llmtest.Call("call_up_1", "send_email", `{"to":"`+m[1]+`","subject":"hi","body":"see you"}`)}}
	case strings.Contains(user, "PLEASE_PAY"):
		return llmtest.Reply{ToolCalls: []llmtest.ToolCall{llmtest.Call("call_up_5", "pay_invoice", `{"invoice":"INV-7"}`)}}
	case strings.Contains(user, "PLEASE_WIRE"):
		return llmtest.Reply{ToolCalls: []llmtest.ToolCall{llmtest.Call("call_up_2", "wire_money", `{"account":"DE00","amount":1000}`)}}
	case strings.Contains(user, "DUP_KEYS"):
		return llmtest.Reply{ToolCalls: []llmtest.ToolCall{llmtest.Call("call_up_3", "send_email",
			`{"to":"bob@bank.example","to":"eve@evil.example","subject":"s","body":"b"}`)}}
	case strings.Contains(user, "CASE_KEYS"):
		return llmtest.Reply{ToolCalls: []llmtest.ToolCall{llmtest.Call("call_up_4", "send_email",
			`{"to":"bob@bank.example","TO":"eve@evil.example","subject":"s","body":"b"}`)}}
	case strings.Contains(user, "CLM-1001") && slices.Contains(req.ToolNames(), "claims_status"):
		return llmtest.Reply{ToolCalls: []llmtest.ToolCall{llmtest.Call("call_c", "claims_status", `{"claim_id":"CLM-1001"}`)}}
	}
	return llmtest.Reply{Content: "Hello from the scripted model."}
}

// runNode runs a test/interop script with env and returns its JSON lines.
func runNode(t *testing.T, script string, env map[string]string) []map[string]any {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is required for the interop tests")
	}
	dir, _ := filepath.Abs("../../test/interop")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, script))
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "NODE_NO_WARNINGS=1", "OPENAI_AGENTS_DISABLE_TRACING=1"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	outb, err := cmd.Output()
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(string(outb)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			lines = append(lines, m)
		}
	}
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("node %s: %v\nstdout:\n%s\nstderr:\n%s", script, err, outb, stderr)
	}
	return lines
}

func findCase(lines []map[string]any, name string) map[string]any {
	for _, l := range lines {
		if l["case"] == name {
			return l
		}
	}
	return nil
}

func TestInterop_OpenAISDKAndAgentsSDK(t *testing.T) {
	g := startGateway(t, gwOptions{script: interopScript, config: openAIConfig("")})
	lines := runNode(t, "openai.mjs", map[string]string{
		"GATEHOUSE_BASE": g.base + "/v1", "KEY_AGENT": g.keys["agent"], "KEY_CUSTOMER": g.keys["customer"],
		"KEY_VIEWER": g.keys["viewer"], "PT_MODEL": "gpt-test", "AGENT_MODEL": "support_agent",
	})
	if findCase(lines, "ok") == nil {
		t.Fatalf("the interop script did not finish: %v", lines)
	}
	var errs int
	for _, l := range lines {
		if l["case"] == "error" {
			errs++
		}
	}
	if errs < 17 {
		t.Errorf("%d error paths checked, want 17", errs)
	}

	// The agent may not wire money: the model was never shown wire_money.
	for _, r := range g.upstream.Requests() {
		if slices.Contains(r.ToolNames(), "wire_money") {
			t.Fatalf("the upstream model was offered wire_money: %v", r.ToolNames())
		}
	}

	evs := openAuditLog(t, sqliteAuditDSN(g)).all()
	byRun := func(run string) []audit.Event {
		var out []audit.Event
		for _, e := range evs {
			if e.RunID == run {
				out = append(out, e)
			}
		}
		return out
	}
	// The pass-through request: offered tools, the decision with the caller.
	pt := findCase(lines, "passthrough-nonstream")
	run := byRun(pt["run_id"].(string))
	if len(run) == 0 || run[0].Type != audit.TypeRunStarted || !strings.Contains(run[0].Reason, `tools offered: ["send_email"]`) || run[0].Subject != "agent" {
		t.Fatalf("pass-through run.started = %+v", run)
	}
	var decided *audit.Event
	for i, e := range run {
		if e.Type == audit.TypeToolDecided {
			decided = &run[i]
		}
	}
	if decided == nil || decided.Decision != audit.Allow || decided.Resource != "tool:send_email" || decided.Subject != "agent" || decided.AuthMethod != "api_key" {
		t.Fatalf("pass-through tool.decided = %+v", decided)
	}
	// The result the client sent back is that call's tool.finished.
	var finished *audit.Event
	for i, e := range byRun(pt["result_run_id"].(string)) {
		if e.Type == audit.TypeToolFinished {
			finished = &byRun(pt["result_run_id"].(string))[i]
		}
	}
	if finished == nil || finished.Resource != "tool:send_email" || finished.Outcome != "reported" || !strings.Contains(finished.Reason, pt["call_id"].(string)) {
		t.Fatalf("reported tool.finished = %+v", finished)
	}
	if got := finished.Content["result"]; !strings.HasPrefix(got, audit.HMACPrefix) {
		t.Errorf("the reported result is stored as %q, want its HMAC (audit.content: hmac)", got)
	}
	// The Agents SDK's hidden tool: removed from the offer, refused when asked for.
	var removed, refusedHidden bool
	for _, e := range evs {
		if e.Type == audit.TypeRunStarted && strings.Contains(e.Reason, `removed: ["wire_money"]`) {
			removed = true
		}
		if e.Type == audit.TypeToolDecided && e.Resource == "tool:wire_money" && e.Decision == audit.Deny && e.Rule == "tool not offered" {
			refusedHidden = true
		}
	}
	if !removed || !refusedHidden {
		t.Errorf("wire_money: removed from the offer %v, refused when proposed %v", removed, refusedHidden)
	}
	// A refused pass-through turn ends as refused.
	ref := byRun(findCase(lines, "passthrough-refused")["run_id"].(string))
	if last := ref[len(ref)-1]; last.Type != audit.TypeRunFinished || last.Outcome != "refused" {
		t.Errorf("refused pass-through run ends with %+v", last)
	}
}
