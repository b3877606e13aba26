package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gatehousehq/gatehouse/internal/llm/llmtest"
	"github.com/gatehousehq/gatehouse/internal/zitadeltest"
)

// recorder is an HTTP tool's backend that keeps each request's bearer.
type recorder struct {
	*httptest.Server
	mu      sync.Mutex
	bearers []string
}

func newRecorder(t *testing.T) *recorder {
	rec := &recorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.bearers = append(rec.bearers, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		rec.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"tier":"gold"}`))
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (rec *recorder) seen() []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]string(nil), rec.bearers...)
}

// Token exchange at a real provider: the tool gets a token the provider
// issued for the caller; a refusal by the provider stops the call, and the
// log says why; the exchanged token is reused until shortly before expiry.
func TestTokenExchange_RealProvider(t *testing.T) {
	z := zitadeltest.Start(t)
	crm := newRecorder(t)
	script := func(_ int, req *llmtest.Request) llmtest.Reply {
		if req.Last().Role == "tool" {
			return llmtest.Reply{Content: "tool said: " + string(*req.Last().Content)}
		}
		return llmtest.Reply{ToolCalls: []llmtest.ToolCall{llmtest.Call("c1", "crm_lookup", `{"customer_id":"C-100"}`)}}
	}
	g := startGateway(t, gwOptions{script: script, env: map[string]string{"CRM_EXCHANGE_SECRET": "exchange-secret"}, config: func(g *gateway) string {
		// The provider's JWTs carry no roles or scopes: client_id (the
		// service account) stands in as the role.
		cfg := g.withIdentity(identityYAML{
			auth: fmt.Sprintf("  jwt:\n    issuers:\n      - {issuer: %q, audiences: [%q], algorithms: [RS256], roles_claim: client_id}\n", z.URL, z.URL),
		})
		cfg = strings.Replace(cfg, "\n  roles:\n", "\n  roles:\n    alice: [respond, claims.read]\n    bob: [respond, claims.read]\n", 1)
		tool := fmt.Sprintf("  crm_lookup: {type: http, method: GET, url: %q, permission: claims.read,\n"+
			"               token_exchange: {token_url: %q, client_id: gatehouse, client_secret_env: CRM_EXCHANGE_SECRET, audience: crm, scope: openid},\n"+
			"               parameters: {type: object, properties: {customer_id: {type: string}}, required: [customer_id]}}\n",
			crm.URL+"/customers/{customer_id}", z.URL+"/oauth/token")
		cfg = strings.Replace(cfg, "{{EXTRA}}", "", 1)
		cfg = strings.Replace(cfg, "agents:\n", tool+"agents:\n", 1)
		return strings.Replace(cfg, "tools: [claims_status, payments_lookup, policy_update]", "tools: [crm_lookup]", 1)
	}})

	alice := z.UserToken(t, "alice")
	for i := range 2 {
		r := g.call(testClient, "POST", "/v1/chat", alice, map[string]string{"message": "look up C-100"})
		if r.status != 200 || !strings.Contains(r.raw, "gold") {
			t.Fatalf("chat %d: %d %s", i, r.status, r.raw)
		}
	}
	bearers := crm.seen()
	if len(bearers) != 2 || bearers[0] == "" || bearers[0] == alice || bearers[1] != bearers[0] {
		t.Fatalf("the tool's bearers: %q", bearers)
	}
	if sub := z.UserinfoSubject(t, bearers[0]); sub != "alice" {
		t.Errorf("the provider says the exchanged token is %q's", sub)
	}
	if n := z.Exchanges.Load(); n != 1 {
		t.Errorf("exchanges at the provider = %d, want 1 (the second call reuses the cached token)", n)
	}

	// bob may not be exchanged for: the provider refuses, nothing is sent.
	r := g.call(testClient, "POST", "/v1/chat", z.UserToken(t, "bob"), map[string]string{"message": "look up C-100"})
	if r.status != 200 || !strings.Contains(r.raw, "no credential for this call") {
		t.Errorf("refused exchange: %d %s", r.status, r.raw)
	}
	if n := len(crm.seen()); n != 2 {
		t.Errorf("the tool got %d requests, want 2: the refused call must not be sent", n)
	}
	if log := g.stderr.String(); !strings.Contains(log, "token exchange failed") || !strings.Contains(log, "impersonation") {
		t.Errorf("the log does not say why the exchange failed:\n%s", log)
	}
}
