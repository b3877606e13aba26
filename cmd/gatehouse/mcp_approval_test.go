package main

import (
	"path/filepath"
	"testing"

	"github.com/gatehousehq/gatehouse/internal/audit"
)

// The four-eyes rule holds on /mcp: with the dev config, the admin's
// policy_update through the official MCP SDK client is held (nothing runs,
// approval.requested is recorded, the answer names the approval), and
// after the supervisor approves it runs once, on the server.
func TestInterop_MCPApprovalIsHeld(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	g := startDevAt(t, dir)
	before := policyField(t, dir, "POL-500", "status")
	lines := runNode(t, "mcp_approval.mjs", map[string]string{"GATEHOUSE_MCP": g.base + "/mcp", "KEY": g.keys["admin"]})
	if len(lines) == 0 || lines[len(lines)-1]["case"] != "done" {
		t.Fatalf("the script did not finish: %v", lines)
	}
	held := lines[0]
	if held["isError"] != false {
		t.Errorf("a held call is not an error: %v", held)
	}
	st, _ := held["structured"].(map[string]any)
	runID, _ := st["run_id"].(string)
	as, _ := st["approvals"].([]any)
	if st["status"] != "awaiting_approval" || runID == "" || len(as) != 1 {
		t.Fatalf("structured answer = %v", st)
	}
	apr := as[0].(map[string]any)
	if got := policyField(t, dir, "POL-500", "status"); got != before {
		t.Fatalf("the held call ran: status %q, was %q", got, before)
	}
	if evs := auditEvents(t, g, runID, audit.TypeApprovalRequested); len(evs) != 1 {
		t.Fatalf("approval.requested events = %v", evs)
	}
	if evs := auditEvents(t, g, runID, audit.TypeToolFinished); len(evs) != 0 {
		t.Fatalf("the tool finished before a decision: %v", evs)
	}
	// The requester cannot approve their own call; the supervisor can.
	if r := g.do("POST", "/v1/approvals/"+apr["id"].(string), "admin", map[string]string{"decision": "approve", "args_sha256": apr["args_sha256"].(string)}); r.status != 403 {
		t.Fatalf("self-approval = %d %s", r.status, r.raw)
	}
	if r := g.do("POST", "/v1/approvals/"+apr["id"].(string), "supervisor", map[string]string{"decision": "approve", "args_sha256": apr["args_sha256"].(string)}); r.status != 200 {
		t.Fatalf("approve = %d %s", r.status, r.raw)
	}
	done := waitRun(t, g, "admin", runID)
	if done.str("status") != "completed" {
		t.Fatalf("run = %s", done.raw)
	}
	if got := policyField(t, dir, "POL-500", "status"); got != "lapsed" {
		t.Errorf("after approval the status is %q, want lapsed", got)
	}
	fin := auditEvents(t, g, runID, audit.TypeToolFinished)
	if len(fin) != 1 || fin[0]["outcome"] != "ok" {
		t.Errorf("tool.finished after approval = %v, want one ok", fin)
	}
	decided := auditEvents(t, g, runID, audit.TypeToolDecided)
	if len(decided) != 1 || decided[0]["decision"] != "allow" {
		t.Errorf("tool.decided after approval = %v", decided)
	}
}
