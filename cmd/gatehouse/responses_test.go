package main

import (
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse/internal/audit"
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
