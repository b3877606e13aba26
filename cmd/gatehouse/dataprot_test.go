package main

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/llm/llmtest"
)

const (
	typedCard = "4111 1111 1111 1111" // the demo database's card of C-100
	cardDigit = "4111111111111111"
)

var cardToken = regexp.MustCompile(`⟦card:[0-9a-f]{16}⟧`)

// dlpScript is a model that passes on what it is shown: a token it sees
// in the user's message goes to card_status; a tool result is quoted in
// the answer with the token; a pass-through request with send_email
// offered e-mails the user's message; STREAM streams a card across two
// chunks.
func dlpScript(_ int, req *llmtest.Request) llmtest.Reply {
	last := req.Last()
	var tok string
	for _, m := range req.Messages {
		if m.Role == "user" {
			if t := cardToken.FindString(m.Text()); t != "" {
				tok = t
			}
		}
	}
	switch {
	case last.Role == "tool":
		return llmtest.Reply{Content: "Card " + tok + " checked: " + last.Text()}
	case strings.Contains(last.Text(), "STREAM"):
		return llmtest.Reply{Chunks: []string{"Noted: your card 4111 1111 11", "11 1111 is on file."}}
	case strings.Contains(strings.Join(req.ToolNames(), ","), "send_email"):
		body, _ := json.Marshal(map[string]string{"to": "bob@bank.example", "subject": "card", "body": last.Text()})
		return llmtest.Reply{ToolCalls: []llmtest.ToolCall{llmtest.Call("call_1", "send_email", string(body))}}
	case tok != "":
		return llmtest.Reply{ToolCalls: []llmtest.ToolCall{llmtest.Call("call_1", "card_status", `{"card_number":"`+tok+`"}`)}}
	}
	return llmtest.Reply{Content: "How can I help?"}
}

func dlpConfig(g *gateway) string {
	cfg := openAIConfig(`data_protection:
  key_file: "` + g.dir + `/vault.key"
  reveal: {card: [admin]}
`)(g)
	cfg = strings.Replace(cfg, "content: hmac", "content: full", 1)
	cfg = strings.Replace(cfg, "tools: [claims_status, payments_lookup, policy_update]", "tools: [claims_status, payments_lookup, policy_update, card_status]", 1)
	cfg = strings.Replace(cfg, "  policy_update:   {type: builtin, permission: policy.write}",
		"  policy_update:   {type: builtin, permission: policy.write}\n  card_status:     {type: builtin, permission: claims.read}", 1)
	// Policy sees findings: no card leaves by e-mail, token or not.
	return strings.Replace(cfg, `condition: 'args.to.endsWith("@bank.example")'`,
		`condition: 'args.to.endsWith("@bank.example") && !findings.exists(f, f.type == "card")'`, 1)
}

// modelSaw is everything the test upstream received, as text.
func modelSaw(g *gateway) string {
	var b strings.Builder
	for _, r := range g.upstream.Requests() {
		for _, m := range r.Messages {
			b.WriteString(m.Text())
			for _, tc := range m.ToolCalls {
				b.WriteString(tc.Function.Arguments)
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

func TestDataProtection_TheModelSeesATokenTheToolGetsTheNumber(t *testing.T) {
	g := startGateway(t, gwOptions{script: dlpScript, config: dlpConfig})
	ask := "Is my card " + typedCard + " still active?"

	r := g.do("POST", "/v1/chat", "agent", map[string]string{"message": ask})
	if r.status != http.StatusOK {
		t.Fatalf("chat: %d %s", r.status, r.raw)
	}
	answer, _ := r.body["response"].(string)
	tok := cardToken.FindString(answer)
	// card_status found the card by its full number: the tool got it.
	if tok == "" || strings.Contains(answer, "4111") || !strings.Contains(answer, `"card":"ending 1111"`) || !strings.Contains(answer, `"status":"active"`) {
		t.Fatalf("agent's answer = %q", answer)
	}
	saw := modelSaw(g)
	if strings.Contains(saw, "4111") || !strings.Contains(saw, tok) {
		t.Fatalf("the model received:\n%s", saw)
	}
	t.Logf("the model received:\n%s", saw)

	// admin is in data_protection.reveal: the answer holds the number.
	r = g.do("POST", "/v1/chat", "admin", map[string]string{"message": ask})
	if answer, _ := r.body["response"].(string); !strings.Contains(answer, "Card "+typedCard+" checked") || cardToken.MatchString(answer) {
		t.Errorf("admin's answer = %q", answer)
	}
	if saw := modelSaw(g); strings.Contains(saw, "4111") {
		t.Errorf("the model received the number in admin's run:\n%s", saw)
	}
	g.assertNoCardAnywhere()
}

func TestDataProtection_ACardSplitAcrossStreamedChunksIsCaught(t *testing.T) {
	g := startGateway(t, gwOptions{script: dlpScript, config: dlpConfig})
	for _, model := range []string{"support_agent", "gpt-test"} {
		resp := g.openStream("/v1/chat/completions", "agent", `{"model":"`+model+`","stream":true,"messages":[{"role":"user","content":"STREAM please"}]}`)
		var text strings.Builder
		events(resp, func(e sseEvent) bool { text.WriteString(contentOf(e.data)); return true })
		got := text.String()
		if strings.Contains(got, "4111") || strings.Contains(got, "1111 1111") || !cardToken.MatchString(got) || !strings.HasSuffix(got, " is on file.") {
			t.Errorf("%s streamed %q", model, got)
		}
	}
	g.assertNoCardAnywhere()
}

func TestDataProtection_OnlyTheTokensOwnerAndSessionGetItsValue(t *testing.T) {
	g := startGateway(t, gwOptions{script: dlpScript, config: dlpConfig})
	first := g.do("POST", "/v1/chat", "agent", map[string]string{"message": "Is my card " + typedCard + " active?"})
	tok := cardToken.FindString(first.body["response"].(string))
	session, _ := first.body["session_id"].(string)
	if tok == "" || session == "" {
		t.Fatalf("first answer: %s", first.raw)
	}
	// The same session: the token is its own, the tool runs.
	same := g.do("POST", "/v1/chat", "agent", map[string]any{"message": "And " + tok + "?", "session_id": session})
	if calls := same.body["tool_calls"].([]any); len(calls) != 1 || calls[0].(map[string]any)["status"] != "ok" {
		t.Fatalf("the token in its own session: %s", same.raw)
	}
	for _, c := range []struct{ name, user, token string }{
		{"another caller's token", "admin", tok},
		{"another session's token", "agent", tok},
		{"an invented token", "agent", "⟦card:0123456789abcdef⟧"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := len(g.upstream.Requests())
			r := g.do("POST", "/v1/chat", c.user, map[string]string{"message": "Check " + c.token + " please"})
			calls, _ := r.body["tool_calls"].([]any)
			if r.status != http.StatusOK || len(calls) != 1 || calls[0].(map[string]any)["status"] != "error" {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			reqs := g.upstream.Requests()[before:]
			told := reqs[len(reqs)-1].Last().Text()
			if !strings.Contains(told, "not_run") || !strings.Contains(told, "not issued to this caller") || strings.Contains(told, "4111") {
				t.Errorf("the model was told %q", told)
			}
		})
	}
	log := openAuditLog(t, sqliteAuditDSN(g))
	refused := 0
	for _, e := range log.all() {
		if e.Type == audit.TypeToolFinished && e.Outcome == "refused" {
			refused++
		}
	}
	if refused != 3 {
		t.Errorf("%d tool.finished refused, want 3", refused)
	}
	g.assertNoCardAnywhere()
}

// The pass-through: the user's card reaches the model as a token, and a
// call carrying it is judged on its findings (send_email's condition
// refuses cards): never released.
func TestDataProtection_PassthroughPolicySeesTheTokensFindings(t *testing.T) {
	g := startGateway(t, gwOptions{script: dlpScript, config: dlpConfig})
	r := g.do("POST", "/v1/chat/completions", "agent", `{"model":"gpt-test","messages":[{"role":"user","content":"mail my card `+typedCard+` to bob"}],
		"tools":[{"type":"function","function":{"name":"send_email","parameters":{"type":"object"}}}]}`)
	if r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	msg := r.body["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)
	if msg["tool_calls"] != nil || !strings.Contains(msg["content"].(string), "the tool's condition does not allow this call") {
		t.Errorf("the client got %v", msg)
	}
	if saw := modelSaw(g); strings.Contains(saw, "4111") || !cardToken.MatchString(saw) {
		t.Errorf("the model received:\n%s", saw)
	}
	g.assertNoCardAnywhere()
}

// assertNoCardAnywhere scans the audit log (content: full), the server log
// and the metrics for the card number, and checks its findings were
// recorded by type and keyed hash.
func (g *gateway) assertNoCardAnywhere() {
	t := g.t
	t.Helper()
	log := openAuditLog(t, sqliteAuditDSN(g))
	var found int
	for _, e := range log.all() {
		b, _ := json.Marshal(e)
		if strings.Contains(string(b), cardDigit) || strings.Contains(string(b), typedCard) || strings.Contains(string(b), "1111 11") {
			t.Errorf("audit event holds the card: %s", b)
		}
		if e.Type == audit.TypeDataFound && e.Resource == "data:card" && strings.Contains(e.Reason, "keyed hash hmac-sha256:") {
			found++
		}
	}
	if found == 0 {
		t.Error("no data.found event for the card")
	}
	for name, text := range map[string]string{"server log": g.stderr.String(), "metrics": g.do("GET", "/metrics", "admin", nil).raw} {
		if strings.Contains(text, cardDigit) || strings.Contains(text, "4111 1111") {
			t.Errorf("the %s holds the card", name)
		}
	}
}
