package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/gatehousehq/gatehouse/internal/authn"
	"github.com/gatehousehq/gatehouse/internal/llm/llmtest"
)

// A claims handler asks for a policy update, which needs a supervisor's
// approval: their chat shows the call awaiting approval; the supervisor,
// in another browser context, sees it in the inbox with its arguments and
// hash and approves it; the first chat completes on its own.
func TestConsole_SupervisorApprovesAndTheRequestersChatCompletesLive(t *testing.T) {
	supKey, supHash, err := authn.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	script := func(_ int, req *llmtest.Request) llmtest.Reply {
		last := req.Last()
		if last.Role == "tool" {
			if strings.Contains(last.Text(), "error") {
				return llmtest.Reply{Content: "The update was refused."}
			}
			return llmtest.Reply{Content: "Policy POL-500 is now suspended."}
		}
		return llmtest.Reply{ToolCalls: []llmtest.ToolCall{llmtest.Call("call_upd", "policy_update", `{"policy_id":"POL-500","field":"status","value":"suspended"}`)}}
	}
	g := startGateway(t, gwOptions{script: script, config: func(g *gateway) string {
		cfg := g.renderConfig(allUsers, gwOptions{})
		cfg = strings.Replace(cfg, "  policy_update:   {type: builtin, permission: policy.write}",
			"  policy_update:   {type: builtin, permission: policy.write, approval: {approvers: [supervisor], ttl: 30m}}", 1)
		cfg = strings.Replace(cfg, "    customer: [respond, claims.read, payments.read]\n",
			"    customer: [respond, claims.read, payments.read]\n    supervisor: [read, respond]\n", 1)
		cfg = strings.Replace(cfg, "  api_keys:\n",
			fmt.Sprintf("  api_keys:\n    - {subject: supervisor, sha256: %q, roles: [supervisor]}\n", supHash), 1)
		return cfg
	}})
	browser := newBrowser(t)
	handler := openTab(t, browser)
	supervisor := openTab(t, browser) // its own browser context: its own sessionStorage

	handler.signIn(g.base, g.keys["admin"])
	handler.send("Suspend policy POL-500")
	handler.do(chromedp.WaitVisible(chromedp.CSS(`.toolcall[data-tool="policy_update"][data-decision="pending"]`)))

	supervisor.signIn(g.base, supKey)
	supervisor.do(chromedp.Click(chromedp.CSS(`#nav a[data-page="approvals"]`)),
		chromedp.WaitVisible(chromedp.CSS(`li.approval`)))
	card := supervisor.text(`li.approval`)
	for _, want := range []string{"policy_update", `"policy_id": "POL-500"`, `"value": "suspended"`, "admin"} {
		if !strings.Contains(card, want) {
			t.Errorf("approval card %q lacks %q", card, want)
		}
	}
	if h := supervisor.text(`li.approval .hash`); len(h) != 64 {
		t.Errorf("arguments hash %q", h)
	}
	supervisor.screenshots("approvals-pending")
	supervisor.do(chromedp.SendKeys(chromedp.CSS(`li.approval textarea[name="comment"]`), "checked with the customer"),
		chromedp.Click(chromedp.CSS(`li.approval button.approve`)),
		chromedp.WaitVisible(chromedp.CSS(`li.approval p.done`)))

	// The handler's chat completes without anything done in its tab.
	handler.waitFor("the approved run's answer", runDone+`[...document.querySelectorAll('.msg-assistant .text')].some(e => e.textContent.includes('now suspended'))`)
	handler.do(chromedp.WaitVisible(chromedp.CSS(`.toolcall[data-tool="policy_update"][data-decision="allow"]`)))
	if n := evalIn[int](handler, `document.querySelectorAll('.toolcall[data-decision="pending"]').length`); n != 0 {
		t.Errorf("%d calls still shown awaiting approval", n)
	}
	handler.checkClean(g.keys["admin"], g.base)
	supervisor.checkClean(supKey, g.base)
}
