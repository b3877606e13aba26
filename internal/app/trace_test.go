package app_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/gatehousehq/gatehouse/internal/app"
	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/llm/llmtest"
	"github.com/gatehousehq/gatehouse/internal/store"
)

const traceConfig = `server:
  addr: "127.0.0.1:0"
model:
  provider: openai
  base_url: "{{UPSTREAM}}"
  model: test-model
  api_key_env: TEST_OPENAI_KEY
auth:
  api_keys:
    - {subject: ops-bot, sha256: "{{HASH}}", roles: [admin]}
authz:
  roles:
    admin: [read, respond, admin, audit.read, claims.read, crm.read]
tools:
  claims_status: {type: builtin, permission: claims.read}
  crm_lookup:
    type: http
    method: GET
    url: "{{CRM}}/customers/{customer_id}"
    permission: crm.read
    description: "Look a customer up in the CRM."
    parameters: {type: object, properties: {customer_id: {type: string}}, required: [customer_id]}
agents:
  support_agent:
    default: true
    tools: [claims_status, crm_lookup]
audit:
  dsn: "sqlite://{{DIR}}/audit.db"
  content: hmac
  hmac_key_env: TEST_AUDIT_KEY
sessions:
  dsn: "sqlite://{{DIR}}/sessions.db"
demo:
  dsn: "sqlite://{{DIR}}/demo.db"
`

// The caller's trace and key.
const (
	callerTrace  = "4bf92f3577b34da6a3ce929d0e0e4736"
	callerParent = "00f067aa0ba902b7"
	apiKey       = "gh_test_trace_0123456789abcdefghijklmnop"
)

// A traced run: the caller's traceparent is continued, the span tree is
// request → run → model turns, decisions (each with its audit commit) and
// tool calls; the model and the HTTP tool receive traceparent naming their
// span; every audit event of the request holds the trace id; no span
// holds the key, the subject, the message or the arguments.
func TestRun_TraceCoversTheRunAndReachesModelToolAndAudit(t *testing.T) {
	var crmMu sync.Mutex
	var crmTraceparent string
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		crmMu.Lock()
		crmTraceparent = r.Header.Get("Traceparent")
		crmMu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"tier":"gold"}`)
	}))
	t.Cleanup(crm.Close)
	up, upURL := llmtest.Start(t, func(n int, _ *llmtest.Request) llmtest.Reply {
		if n == 0 {
			return llmtest.Reply{ToolCalls: []llmtest.ToolCall{
				llmtest.Call("call_1", "claims_status", `{"claim_id":"CLM-1001"}`),
				llmtest.Call("call_2", "crm_lookup", `{"customer_id":"C-100"}`),
			}}
		}
		return llmtest.Reply{Content: "Claim CLM-1001 is open; C-100 is a gold customer."}
	})

	dir := t.TempDir()
	sum := sha256.Sum256([]byte(apiKey))
	cfg := strings.NewReplacer("{{UPSTREAM}}", upURL, "{{HASH}}", hex.EncodeToString(sum[:]), "{{CRM}}", crm.URL, "{{DIR}}", dir).Replace(traceConfig)
	cfgPath := filepath.Join(dir, "gatehouse.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	env := map[string]string{"TEST_OPENAI_KEY": "sk-test", "TEST_AUDIT_KEY": "0123456789abcdef0123456789abcdef"}
	var logs syncBuffer
	base := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, app.Options{ConfigPath: cfgPath, Getenv: func(k string) string { return env[k] },
			Stderr: &logs, TracerProvider: tp, Listening: func(u string) { base <- u }})
	}()
	var url string
	select {
	case url = <-base:
	case err := <-done:
		t.Fatalf("serve: %v\n%s", err, logs.String())
	case <-time.After(20 * time.Second):
		t.Fatal("gatehouse did not start")
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}
	t.Cleanup(stop)

	req, _ := http.NewRequest(http.MethodPost, url+"/v1/chat", strings.NewReader(`{"message":"status of CLM-1001 and customer C-100?"}`))
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Traceparent", "00-"+callerTrace+"-"+callerParent+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Response  string `json:"response"`
		ToolCalls []struct {
			Name, Status string
		} `json:"tool_calls"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("chat: %d, %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	if len(out.ToolCalls) != 2 || out.ToolCalls[0].Status != "ok" || out.ToolCalls[1].Status != "ok" {
		t.Fatalf("tool calls = %+v, want both ok", out.ToolCalls)
	}
	stop() // every span has ended and every event is durable

	got := spans.GetSpans()
	byName := map[string][]tracetest.SpanStub{}
	for _, s := range got {
		if s.SpanContext.TraceID().String() != callerTrace {
			continue
		}
		byName[s.Name] = append(byName[s.Name], s)
	}
	one := func(name string) tracetest.SpanStub {
		t.Helper()
		if len(byName[name]) != 1 {
			var names []string
			for _, s := range got {
				names = append(names, s.Name)
			}
			t.Fatalf("%d spans named %q in the caller's trace; spans: %q", len(byName[name]), name, names)
		}
		return byName[name][0]
	}
	parentOf := func(child tracetest.SpanStub, parent tracetest.SpanStub) {
		t.Helper()
		if child.Parent.SpanID() != parent.SpanContext.SpanID() {
			t.Errorf("span %q has parent %s, want %q (%s)", child.Name, child.Parent.SpanID(), parent.Name, parent.SpanContext.SpanID())
		}
	}
	request := one("POST /v1/chat")
	if request.Parent.SpanID().String() != callerParent || !request.Parent.IsRemote() {
		t.Errorf("request span's parent = %s, want the caller's %s", request.Parent.SpanID(), callerParent)
	}
	run := one("invoke_agent support_agent")
	parentOf(run, request)
	if n := len(byName["chat test-model"]); n != 2 {
		t.Fatalf("%d model spans, want 2 (a tool turn and the answer)", n)
	}
	for _, m := range byName["chat test-model"] {
		parentOf(m, run)
		attrs := attrMap(m)
		for k, v := range map[string]string{"gen_ai.operation.name": "chat", "gen_ai.request.model": "test-model",
			"gen_ai.response.model": "test-model", "gen_ai.provider.name": "openai", "gen_ai.system": "openai"} {
			if attrs[k] != v {
				t.Errorf("model span %s = %q, want %q", k, attrs[k], v)
			}
		}
		if attrs["gen_ai.usage.input_tokens"] == "" || attrs["gen_ai.usage.output_tokens"] == "" {
			t.Errorf("model span lacks token usage: %v", attrs)
		}
	}
	for _, tool := range []string{"claims_status", "crm_lookup"} {
		auth := one("authorize " + tool)
		parentOf(auth, run)
		if a := attrMap(auth); a["gatehouse.decision"] != "allow" || a["gen_ai.tool.name"] != tool {
			t.Errorf("authorize %s attributes = %v", tool, a)
		}
		parentOf(one("execute_tool "+tool), run)
		// The decision is durable before the tool runs: its commit is
		// inside the authorization span.
		found := false
		for _, c := range byName["audit commit"] {
			found = found || c.Parent.SpanID() == auth.SpanContext.SpanID()
		}
		if !found {
			t.Errorf("no audit commit span under authorize %s", tool)
		}
	}
	commitsUnderRun := 0
	for _, c := range byName["audit commit"] {
		if c.Parent.SpanID() == run.SpanContext.SpanID() {
			commitsUnderRun++
		}
	}
	if commitsUnderRun < 2 { // run.started and run.finished
		t.Errorf("%d audit commits under the run span, want at least 2", commitsUnderRun)
	}

	// The model and the HTTP tool continue the trace from their spans.
	reqs := up.Requests()
	for _, m := range byName["chat test-model"] {
		want := "00-" + callerTrace + "-" + m.SpanContext.SpanID().String() + "-01"
		seen := false
		for _, r := range reqs {
			seen = seen || r.Header.Get("Traceparent") == want
		}
		if !seen {
			t.Errorf("no model request carried traceparent %s", want)
		}
	}
	crmMu.Lock()
	wantCRM := "00-" + callerTrace + "-" + one("execute_tool crm_lookup").SpanContext.SpanID().String() + "-01"
	if crmTraceparent != wantCRM {
		t.Errorf("HTTP tool received traceparent %q, want %q", crmTraceparent, wantCRM)
	}
	crmMu.Unlock()

	// No secret, identity or content in any span.
	for _, s := range got {
		for _, kv := range s.Attributes {
			v := kv.Value.Emit()
			for _, bad := range []string{apiKey, "sk-test", "ops-bot", "CLM-1001", "C-100", "gold"} {
				if strings.Contains(v, bad) {
					t.Errorf("span %q attribute %s = %q holds %q", s.Name, kv.Key, v, bad)
				}
			}
		}
	}

	// Every event of the request carries the trace id, and the log verifies.
	st, err := store.OpenAudit(context.Background(), "sqlite://"+dir+"/audit.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	types := map[string]int{}
	if err := st.Scan(context.Background(), time.Time{}, func(e audit.Event) error {
		if e.RequestID == "" {
			return nil // the process's own events (config, checkpoints)
		}
		types[e.Type]++
		if e.TraceID != callerTrace {
			t.Errorf("event %s %s has trace_id %q, want %s", e.Type, e.Resource, e.TraceID, callerTrace)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if types["run.started"] != 1 || types["tool.decided"] != 2 || types["tool.finished"] != 2 || types["run.finished"] != 1 {
		t.Errorf("events of the request by type: %v", types)
	}
	// Log lines of the request name the trace too.
	if !strings.Contains(logs.String(), `"trace_id":"`+callerTrace+`"`) {
		t.Errorf("no log line names the trace:\n%s", logs.String())
	}
}

func attrMap(s tracetest.SpanStub) map[string]string {
	m := map[string]string{}
	for _, kv := range s.Attributes {
		m[string(kv.Key)] = kv.Value.Emit()
	}
	return m
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
