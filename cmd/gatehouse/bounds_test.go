package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/devkey"
	"github.com/gatehousehq/gatehouse/internal/llm/llmtest"
)

// maxLogLine bounds one server log line in these tests: a request's line
// has about ten values of at most MaxFieldBytes each.
const maxLogLine = 16 << 10

// oversizedScript has the model answer with oversized choices of its own: a
// tool name of 100 KB, an unknown argument key of 100 KB, a claim id of
// 100 KB, and a final answer of 300 KB.
func oversizedScript(n int, req *llmtest.Request) llmtest.Reply {
	big := strings.Repeat("m", 100<<10)
	if req.Last().Role == "tool" {
		return llmtest.Reply{Content: strings.Repeat("answer ", 300<<10/7)}
	}
	return llmtest.Reply{ToolCalls: []llmtest.ToolCall{
		llmtest.Call("c1", "tool_"+big, `{}`),
		llmtest.Call("c2", "claims_status", `{"claim_id":"CLM-1001","`+big+`":1}`),
		llmtest.Call("c3", "claims_status", `{"claim_id":"`+big+`"}`),
		llmtest.Call("c4", "claims_status", `{"claim_id":"CLM-999999999999"}`), // runs: tool.finished

	}}
}

// Whatever the request — every route, with or without valid credentials,
// oversized paths, methods, headers, query values, bodies, tokens, token
// subjects and roles, and oversized model output — no stored audit event
// field and no server log line exceeds its bound.
func TestBounds_NoEventFieldOrLogLineGrowsWithTheRequest(t *testing.T) {
	key, jwksFile := devIssuerFile(t)
	g := startGateway(t, gwOptions{script: oversizedScript, config: func(g *gateway) string {
		cfg := g.withIdentity(identityYAML{auth: fmt.Sprintf("  jwt:\n    issuers:\n"+
			"      - {issuer: %s, audiences: [%s], algorithms: [ES256], jwks_file: %q}\n",
			devkey.Issuer, devkey.Audience, jwksFile)})
		return strings.Replace(cfg, "content: hmac", "content: full", 1) // content as sent: its own bound
	}})

	big := func(n int) string { return strings.Repeat("A", n) }
	// A signed token whose subject and roles are as large as a token may be.
	roles := []string{"admin"}
	for i := range 80 {
		roles = append(roles, fmt.Sprintf("role-%015d", i))
	}
	jwt, err := key.Mint("sub-"+big(2500), roles, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	creds := map[string][]string{
		"none":             nil,
		"unknown key":      {"Bearer " + big(7000)},
		"oversized":        {"Bearer " + big(9000)},
		"not bearer":       {"Basic " + big(7000)},
		"admin key":        {"Bearer " + g.keys["admin"]},
		"viewer key":       {"Bearer " + g.keys["viewer"]},
		"huge-subject jwt": {"Bearer " + jwt},
		"two headers":      {"Bearer " + g.keys["admin"], "Bearer " + big(5000)},
	}
	chat := func(extra string) string {
		return `{"message":"` + big(200<<10) + `"` + extra + `}`
	}
	type req struct{ method, path, body string }
	reqs := []req{
		{"GET", "/health?" + big(20000), ""},
		{"GET", "/ready/" + big(20000), ""},
		{"GET", "/" + big(30000), ""},
		{"POST", "/chat", chat("")},
		{"POST", "/v1/chat", chat("")},
		{"POST", "/v1/chat", chat(`,"session_id":"` + big(200<<10) + `"`)},
		{"POST", "/v1/chat", chat(`,"agent":"` + big(100<<10) + `"`)},
		{"POST", "/v1/chat/" + big(20000), chat("")},
		{"GET", "/v1/sessions/" + big(30000), ""},
		{"GET", "/v1/sessions/ses_" + big(100) + "?" + big(20000), ""},
		{"POST", "/admin/reload?" + big(20000), ""},
		{"GET", "/admin/audit?subject=" + big(10000) + "&type=" + big(10000) + "&cursor=c" + big(5000), ""},
		{"GET", "/admin/audit?limit=" + big(10000), ""},
		{"GET", "/admin/audit/verify?" + big(20000), ""},
		{"GET", "/.well-known/oauth-protected-resource/" + big(20000), ""},
		{"GET" + big(20000), "/health", ""},
		{"PATCH" + big(20000), "/admin/audit", ""},
	}
	sent := 0
	for _, rq := range reqs {
		for name, auth := range creds {
			hr, err := http.NewRequest(rq.method, g.base+rq.path, strings.NewReader(rq.body))
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range auth {
				hr.Header.Add("Authorization", a)
			}
			hr.Header.Set("Content-Type", "application/json")
			hr.Header.Set("User-Agent", big(4000))
			hr.Header.Set("X-Request-Id", big(4000))
			hr.Header.Set("Traceparent", big(2000))
			resp, err := testClient.Do(hr)
			if err != nil {
				t.Fatalf("%s %.40s as %s: %v", rq.method, rq.path, name, err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			g.checkAPI(hr, resp.StatusCode, resp.Header, raw)
			sent++
			if resp.StatusCode >= 500 && resp.StatusCode != http.StatusBadGateway {
				t.Errorf("%.40s %.60s as %s: %d", rq.method, rq.path, name, resp.StatusCode)
			}
		}
	}

	events := openAuditLog(t, sqliteAuditDSN(g)).all()
	types := map[string]int{}
	cut := 0
	for _, e := range events {
		types[e.Type]++
		b, _ := json.Marshal(e)
		if strings.Contains(string(b), "(cut, ") {
			cut++
		}
		for name, v := range map[string]string{"request_id": e.RequestID, "run_id": e.RunID, "session_id": e.SessionID,
			"type": e.Type, "subject": e.Subject, "auth_method": e.AuthMethod, "issuer": e.Issuer, "decision": e.Decision,
			"rule": e.Rule, "reason": e.Reason, "resource": e.Resource, "outcome": e.Outcome, "model": e.Model} {
			if len(v) > audit.MaxFieldBytes {
				t.Errorf("%s event: %s of %d bytes: %.80s…", e.Type, name, len(v), v)
			}
		}
		if len(e.Roles) > audit.MaxRoles+1 {
			t.Errorf("%s event: %d roles", e.Type, len(e.Roles))
		}
		for _, r := range e.Roles {
			if len(r) > audit.MaxFieldBytes {
				t.Errorf("%s event: a role of %d bytes", e.Type, len(r))
			}
		}
		for k, v := range e.Content {
			if len(k) > audit.MaxFieldBytes || len(v) > audit.MaxContentBytes {
				t.Errorf("%s event: content %.40q of %d bytes", e.Type, k, len(v))
			}
		}
	}
	if cut == 0 {
		t.Error("no event needed cutting: the requests did not reach the bounds")
	}
	for _, typ := range []string{audit.TypeAuthFailed, audit.TypeAuthzDecided, audit.TypeRunStarted, audit.TypeToolDecided,
		audit.TypeToolFinished, audit.TypeRunFinished} {
		if types[typ] == 0 {
			t.Errorf("no %s event among %d after %d requests: %v", typ, len(events), sent, types)
		}
	}
	logs := g.stderr.String()
	for i, line := range strings.Split(logs, "\n") {
		if len(line) > maxLogLine {
			t.Errorf("log line %d has %d bytes: %.200s…", i, len(line), line)
		}
	}
	if !strings.Contains(logs, `"msg":"request"`) {
		t.Error("no request lines logged")
	}
}
