package main

import (
	"strings"
	"testing"
)

// POST /admin/authz/explain answers what the gate decides — the tool's
// strict decoder, the permission, the condition — for admins only; GET
// /console/api/me tells any caller what they may do.
func TestAuthzExplain_AnswersWithTheGatesDecision(t *testing.T) {
	g := startGateway(t, gwOptions{})
	customer := map[string]any{"roles": []string{"customer"}, "claims": map[string]any{"customer_id": "C-100"}, "tool": "payments_lookup"}
	with := func(args any) map[string]any {
		m := map[string]any{}
		for k, v := range customer {
			m[k] = v
		}
		m["arguments"] = args
		return m
	}
	for _, c := range []struct {
		name     string
		body     any
		decision string
		status   string
		rule     string
	}{
		{"own customer", with(map[string]any{"customer_id": "C-100"}), "allow", "allowed", "role:customer grants payments.read; condition of payments_lookup"},
		{"other customer", with(map[string]any{"customer_id": "C-200"}), "deny", "denied", "condition of payments_lookup"},
		{"arguments as the model sends them", with(`{"customer_id":"C-100"}`), "allow", "allowed", "role:customer grants payments.read"},
		{"unknown argument", with(map[string]any{"customer_id": "C-100", "x": 1}), "deny", "invalid_arguments", "argument schema of payments_lookup"},
		{"no permission", map[string]any{"roles": []string{"viewer"}, "tool": "claims_status", "arguments": map[string]any{"claim_id": "CLM-1001"}}, "deny", "denied", "tool not offered"},
		{"unknown tool", map[string]any{"roles": []string{"admin"}, "tool": "nope"}, "deny", "denied", "tool not offered"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := g.do("POST", "/admin/authz/explain", "admin", c.body)
			if r.status != 200 || r.str("decision") != c.decision || r.str("status") != c.status || !strings.HasPrefix(r.str("rule"), c.rule) {
				t.Errorf("%d %s; want %s/%s by %q", r.status, r.raw, c.decision, c.status, c.rule)
			}
		})
	}
	if r := g.do("POST", "/admin/authz/explain", "agent", with(map[string]any{})); r.status != 403 {
		t.Errorf("explain for a non-admin: %d", r.status)
	}
	if r := g.do("POST", "/admin/authz/explain", "admin", `{"tool":"claims_status","rolse":["admin"]}`); r.status != 400 {
		t.Errorf("a misspelt member: %d %s", r.status, r.raw)
	}
	if r := g.do("GET", "/admin/authz/matrix", "agent", nil); r.status != 403 {
		t.Errorf("matrix for a non-admin: %d", r.status)
	}
	if r := g.do("GET", "/admin/authz/matrix", "admin", nil); r.status != 200 || len(r.body["cells"].([]any)) != 4*3 {
		t.Errorf("matrix: %d %s", r.status, r.raw)
	}
	r := g.do("GET", "/console/api/me", "customer", nil)
	if r.status != 200 || r.str("subject") != "customer" || !strings.Contains(r.raw, `"permissions":["claims.read","payments.read","respond"]`) {
		t.Errorf("me: %d %s", r.status, r.raw)
	}
	if r := g.do("GET", "/console/api/me", "", nil); r.status != 401 {
		t.Errorf("me without a token: %d", r.status)
	}
	page := g.do("GET", "/console/", "", nil)
	if csp := page.header.Get("Content-Security-Policy"); page.status != 200 || !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("console: %d, CSP %q", page.status, csp)
	}
	if csp := g.do("GET", "/health", "", nil).header.Get("Content-Security-Policy"); csp != "default-src 'none'; frame-ancestors 'none'" {
		t.Errorf("the API's own CSP changed: %q", csp)
	}
}
