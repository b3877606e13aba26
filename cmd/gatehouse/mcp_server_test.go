package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/devkey"
)

// The official MCP TypeScript SDK against /mcp: each role lists and calls
// exactly what it may, refusals are isError results, sessions are bound to
// their caller, and an anonymous client gets 401 with resource_metadata.
func TestInterop_MCPClient(t *testing.T) {
	_, jwksFile := devIssuerFile(t)
	g := startGateway(t, gwOptions{config: func(g *gateway) string {
		return g.withIdentity(identityYAML{auth: fmt.Sprintf("  jwt:\n    issuers:\n"+
			"      - {issuer: %s, audiences: [%s], algorithms: [ES256], jwks_file: %q}\n",
			devkey.Issuer, devkey.Audience, jwksFile)})
	}})
	lines := runNode(t, "mcp_client.mjs", map[string]string{
		"GATEHOUSE_MCP": g.base + "/mcp", "KEY_AGENT": g.keys["agent"], "KEY_CUSTOMER": g.keys["customer"], "KEY_ADMIN": g.keys["admin"],
	})
	if len(lines) == 0 || lines[len(lines)-1]["case"] != "done" {
		t.Fatalf("the script did not finish: %v", lines)
	}

	// Every call is in the audit log as an agent's call would be: the
	// decision with its rule, then the result.
	evs := openAuditLog(t, sqliteAuditDSN(g)).all()
	var denied, allowed, finished int
	for _, e := range evs {
		switch {
		case e.Type == audit.TypeToolDecided && e.Subject == "customer" && e.Resource == "tool:payments_lookup" && e.Decision == audit.Deny:
			if !strings.Contains(e.Rule, "condition of payments_lookup") || e.RunID == "" || e.AuthMethod != "api_key" {
				t.Errorf("customer's refused call: %+v", e)
			}
			denied++
		case e.Type == audit.TypeToolDecided && e.Subject == "admin" && e.Resource == "tool:policy_update" && e.Decision == audit.Allow:
			allowed++
		case e.Type == audit.TypeToolFinished && e.Subject == "admin" && e.Resource == "tool:policy_update" && e.Outcome == "ok":
			finished++
		}
	}
	if denied != 1 || allowed != 1 || finished != 1 {
		t.Errorf("audit: %d refused customer calls, %d allowed and %d finished admin calls; want 1 each", denied, allowed, finished)
	}
	var askRun bool
	for _, e := range evs {
		if e.Type == audit.TypeRunStarted && e.Subject == "agent" {
			askRun = true
		}
	}
	if !askRun {
		t.Error("ask_support_agent did not record a run")
	}
}
