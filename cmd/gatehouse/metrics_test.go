package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/devkey"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape parses a Prometheus text exposition into its families.
func scrape(t *testing.T, body string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	return fams
}

// sample is the value of the series of family name with exactly labels
// (name=value pairs); ok is false when there is no such series.
func sample(fams map[string]*dto.MetricFamily, name string, labels ...string) (v float64, ok bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
next:
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(want) {
			continue
		}
		for _, l := range m.GetLabel() {
			if want[l.GetName()] != l.GetValue() {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

// checkLabelsHoldNothing fails when any label value of any series holds one
// of the forbidden strings (subjects, keys, arguments, the model's words).
func checkLabelsHoldNothing(t *testing.T, fams map[string]*dto.MetricFamily, forbidden []string) {
	t.Helper()
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				for _, bad := range forbidden {
					if strings.Contains(strings.ToLower(l.GetValue()), strings.ToLower(bad)) {
						t.Errorf("%s{%s=%q} holds %q", name, l.GetName(), l.GetValue(), bad)
					}
				}
			}
		}
	}
}

func TestMetrics_ScrapeAfterARunWithAllowedAndDeniedToolCalls(t *testing.T) {
	g := startGateway(t, gwOptions{script: callScript})
	// One allowed call, one the customer may not make, and one to a tool
	// the model made up (its name is the model's, and must not become a
	// label).
	r := g.do("POST", "/v1/chat", "customer", map[string]string{"message": strings.Join([]string{
		`CALL claims_status {"claim_id":"CLM-1001"}`,
		`CALL policy_update {"policy_id":"POL-500","field":"status","value":"zebra-cancelled"}`,
		`CALL exfiltrate_ledger {"target":"attacker.example"}`,
	}, "\n")})
	if r.status != http.StatusOK {
		t.Fatalf("chat: %d %s", r.status, r.raw)
	}
	calls := toolCalls(t, r)
	if len(calls) != 3 || calls[0]["decision"] != "allow" || calls[1]["decision"] != "deny" || calls[2]["decision"] != "deny" {
		t.Fatalf("tool calls: %v", calls)
	}
	// Authentication failures: a wrong key, no credentials, a JWT-shaped token.
	if r := g.do("POST", "/v1/chat", "", map[string]string{"message": "hi"}); r.status != http.StatusUnauthorized {
		t.Fatalf("no key: %d", r.status)
	}
	wrongKey := "gh_wrong-key-value-that-is-not-configured"
	for _, tok := range []string{wrongKey, "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJtYWxsb3J5In0.c2ln"} {
		req, _ := http.NewRequest("GET", g.base+"/v1/models", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		if r := g.send(req); r.status != http.StatusUnauthorized {
			t.Fatalf("bad token: %d %s", r.status, r.raw)
		}
	}

	// /metrics on the main listener: the metrics permission, nothing less.
	if r := g.do("GET", "/metrics", "", nil); r.status != http.StatusUnauthorized {
		t.Errorf("/metrics without credentials: %d", r.status)
	}
	if r := g.do("GET", "/metrics", "agent", nil); r.status != http.StatusForbidden {
		t.Errorf("/metrics as agent: %d", r.status)
	}
	m := g.do("GET", "/metrics", "admin", nil)
	if m.status != http.StatusOK || !strings.HasPrefix(m.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics as admin: %d %s", m.status, m.header.Get("Content-Type"))
	}
	fams := scrape(t, m.raw)

	for _, c := range []struct {
		name   string
		labels []string
		want   float64 // -1: present, any value
	}{
		{"gatehouse_http_requests_total", []string{"route", "POST /v1/chat", "status", "200"}, 1},
		{"gatehouse_http_requests_total", []string{"route", "POST /v1/chat", "status", "401"}, 1},
		{"gatehouse_http_requests_total", []string{"route", "GET /v1/models", "status", "401"}, 2},
		{"gatehouse_http_request_duration_seconds", []string{"route", "POST /v1/chat"}, 2},
		{"gatehouse_runs_total", []string{"agent", "support_agent", "outcome", "ok"}, 1},
		{"gatehouse_run_duration_seconds", []string{"agent", "support_agent", "outcome", "ok"}, 1},
		{"gatehouse_tool_decisions_total", []string{"tool", "claims_status", "decision", "allow"}, 1},
		{"gatehouse_tool_decisions_total", []string{"tool", "policy_update", "decision", "deny"}, 1},
		{"gatehouse_tool_decisions_total", []string{"tool", "unknown", "decision", "deny"}, 1},
		// The chat without a key, and the scrape without one below.
		{"gatehouse_auth_failures_total", []string{"method", "none", "reason", "missing_token"}, 2},
		{"gatehouse_auth_failures_total", []string{"method", "api_key", "reason", "invalid_token"}, 1},
		{"gatehouse_auth_failures_total", []string{"method", "jwt", "reason", "invalid_token"}, 1},
		{"gatehouse_model_request_duration_seconds", []string{"model", "test-model"}, 2},
		{"gatehouse_model_tokens_total", []string{"model", "test-model", "type", "prompt"}, -1},
		{"gatehouse_model_tokens_total", []string{"model", "test-model", "type", "completion"}, -1},
		{"gatehouse_audit_unavailable_total", nil, 0},
		{"gatehouse_runs_in_flight", nil, 0},
		{"go_goroutines", nil, -1},
		{"process_resident_memory_bytes", nil, -1},
	} {
		got, ok := sample(fams, c.name, c.labels...)
		if !ok {
			t.Errorf("no series %s%v", c.name, c.labels)
			continue
		}
		if c.want >= 0 && got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if n, _ := sample(fams, "gatehouse_audit_commit_duration_seconds"); n < 2 {
		t.Errorf("audit commits observed: %v, want at least the run's", n)
	}
	if _, ok := sample(fams, "gatehouse_model_errors_total", "model", "test-model"); ok {
		t.Errorf("a model error was counted; none happened")
	}

	forbidden := []string{"CLM-1001", "POL-500", "zebra", "C-100", "exfiltrate", "attacker", "mallory", wrongKey}
	for _, u := range allUsers {
		forbidden = append(forbidden, g.keys[u], g.hashes[u])
	}
	checkLabelsHoldNothing(t, fams, forbidden)
	// Subjects: no label value is one (customer is also a role name, so
	// the check is for equality, not containment).
	for name, f := range fams {
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				for _, u := range allUsers {
					if l.GetValue() == u {
						t.Errorf("%s{%s=%q} is a subject", name, l.GetName(), l.GetValue())
					}
				}
			}
		}
	}
}

func TestMetrics_OwnListenerServesWithoutAuthAndCountsJWKSRefreshes(t *testing.T) {
	key, err := devkey.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	jwks, err := key.PublicJWKS()
	if err != nil {
		t.Fatal(err)
	}
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	}))
	t.Cleanup(idp.Close)
	g := startGateway(t, gwOptions{config: func(g *gateway) string {
		cfg := g.renderConfig(allUsers, gwOptions{})
		cfg = strings.Replace(cfg, "server:\n", "server:\n  metrics_addr: \"127.0.0.1:0\"\n", 1)
		return strings.Replace(cfg, "auth:\n", fmt.Sprintf(`auth:
  jwt:
    issuers:
      - {issuer: %s, audiences: [gatehouse], jwks_url: %q, algorithms: [ES256]}
`, devkey.Issuer, idp.URL), 1)
	}})
	_, after, ok := strings.Cut(g.stdout.String(), "gatehouse metrics on ")
	if !ok {
		t.Fatalf("no metrics address announced:\n%s", g.stdout.String())
	}
	metricsURL := strings.TrimSpace(strings.SplitN(after, "\n", 2)[0])
	if !strings.HasPrefix(metricsURL, "http://127.0.0.1:") || strings.HasPrefix(metricsURL, g.base) {
		t.Fatalf("metrics URL %q (API at %s)", metricsURL, g.base)
	}
	// Not on the main listener when it has its own.
	if r := g.do("GET", "/metrics", "admin", nil); r.status != http.StatusNotFound {
		t.Errorf("/metrics on the API listener: %d", r.status)
	}
	tok, err := key.Mint("jwt-user", []string{"agent"}, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", g.base+"/v1/models", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if r := g.send(req); r.status != http.StatusOK {
		t.Fatalf("JWT caller: %d %s", r.status, r.raw)
	}

	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("metrics listener: %d", resp.StatusCode)
	}
	fams := scrape(t, string(body))
	if n, ok := sample(fams, "gatehouse_jwks_refreshes_total", "issuer", devkey.Issuer, "result", "ok"); !ok || n < 1 {
		t.Errorf("JWKS refreshes: %v %v", n, ok)
	}
	if n, _ := sample(fams, "gatehouse_http_requests_total", "route", "GET /v1/models", "status", "200"); n != 1 {
		t.Errorf("GET /v1/models 200: %v", n)
	}
	checkLabelsHoldNothing(t, fams, []string{"jwt-user", tok})
}
