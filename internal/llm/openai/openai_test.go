package openai_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/llm/llmtest"
	"github.com/gatehousehq/gatehouse/internal/llm/openai"
	"github.com/gatehousehq/gatehouse/internal/openaiwire"
)

var demoTools = []llm.ToolDef{
	{Name: "claims_status", Parameters: json.RawMessage(`{"type":"object"}`)},
	{Name: "payments_lookup", Parameters: json.RawMessage(`{"type":"object"}`)},
	{Name: "policy_update", Parameters: json.RawMessage(`{"type":"object"}`)},
}

func userTurn(text string, tools []llm.ToolDef) llm.Request {
	return llm.Request{Messages: []llm.Message{{Role: "system", Content: "be helpful"}, {Role: "user", Content: text}}, Tools: tools}
}

func newClient(t *testing.T, baseURL string, retries int) *openai.Client {
	t.Helper()
	m, err := openai.New(openai.Config{
		BaseURL: baseURL, APIKey: "sk-test", Model: "gpt-test",
		MaxRetries: retries, MaxRetryDelay: 5 * time.Millisecond, Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestNew_RequiresModelAndKey(t *testing.T) {
	for name, c := range map[string]openai.Config{
		"no model": {APIKey: "sk"},
		"no key":   {Model: "m"},
	} {
		if _, err := openai.New(c); err == nil {
			t.Errorf("%s: NewOpenAI succeeded", name)
		}
	}
}

func TestClient_ParsesToolCallsAndUsage(t *testing.T) {
	srv, url := llmtest.Start(t, func(int, *llmtest.Request) llmtest.Reply {
		return llmtest.Reply{ToolCalls: []llmtest.ToolCall{
			llmtest.Call("call_abc", "claims_status", `{"claim_id":"CLM-1001"}`),
			llmtest.Call("call_def", "payments_lookup", `{"customer_id":"C-100"}`),
		}}
	})
	resp, err := newClient(t, url, 0).Complete(context.Background(), userTurn("CLM-1001", demoTools))
	if err != nil {
		t.Fatal(err)
	}
	want := &llm.Response{
		Model: "gpt-test",
		Message: llm.Message{Role: "assistant", ToolCalls: []llm.ToolCall{
			{ID: "call_abc", Name: "claims_status", Arguments: `{"claim_id":"CLM-1001"}`},
			{ID: "call_def", Name: "payments_lookup", Arguments: `{"customer_id":"C-100"}`},
		}},
		Usage:        llm.Usage{PromptTokens: 20, CompletionTokens: 10, TotalTokens: 30},
		FinishReason: "tool_calls",
	}
	if diff := cmp.Diff(want, resp); diff != "" {
		t.Errorf("response (-want +got):\n%s", diff)
	}
	if srv.Count() != 1 {
		t.Errorf("requests = %d; want 1", srv.Count())
	}
}

func TestClient_SendsHistoryInTheWireShape(t *testing.T) {
	srv, url := llmtest.Start(t, func(int, *llmtest.Request) llmtest.Reply { return llmtest.Reply{Content: "done"} })
	req := llm.Request{
		Model: "gpt-override",
		Tools: demoTools[:2],
		Messages: []llm.Message{
			{Role: "system", Content: "sys"},
			{Role: "user", Content: "CLM-1001?"},
			{Role: "assistant", ToolCalls: []llm.ToolCall{{ID: "c1", Name: "claims_status", Arguments: `{"claim_id":"CLM-1001"}`}}},
			{Role: "tool", ToolCallID: "c1", Content: `{"status":"in_review"}`},
			{Role: "assistant", Content: "It is in review."},
			{Role: "user", Content: "thanks"},
		},
	}
	resp, err := newClient(t, url, 0).Complete(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Message.Content != "done" || len(resp.Message.ToolCalls) != 0 {
		t.Errorf("response message = %+v", resp.Message)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("requests = %d; want 1", len(reqs))
	}
	got := reqs[0]
	if got.Model != "gpt-override" {
		t.Errorf("model = %q; want the request's model", got.Model)
	}
	if diff := cmp.Diff([]string{"claims_status", "payments_lookup"}, got.ToolNames()); diff != "" {
		t.Errorf("tools (-want +got):\n%s", diff)
	}
	for _, tl := range got.Tools {
		if tl.Type != "function" {
			t.Errorf("tool %s has type %q; want function", tl.Function.Name, tl.Type)
		}
	}
	wantMsgs := []llmtest.Message{
		{Role: "system", Content: openaiwire.Text("sys")},
		{Role: "user", Content: openaiwire.Text("CLM-1001?")},
		{Role: "assistant", ToolCalls: []llmtest.ToolCall{llmtest.Call("c1", "claims_status", `{"claim_id":"CLM-1001"}`)}},
		{Role: "tool", ToolCallID: "c1", Content: openaiwire.Text(`{"status":"in_review"}`)},
		{Role: "assistant", Content: openaiwire.Text("It is in review.")},
		{Role: "user", Content: openaiwire.Text("thanks")},
	}
	if diff := cmp.Diff(wantMsgs, got.Messages); diff != "" {
		t.Errorf("wire messages (-want +got):\n%s", diff)
	}
}

func TestClient_UsesConfiguredModelByDefault(t *testing.T) {
	srv, url := llmtest.Start(t, func(int, *llmtest.Request) llmtest.Reply { return llmtest.Reply{Content: "ok"} })
	if _, err := newClient(t, url, 0).Complete(context.Background(), userTurn("hi", nil)); err != nil {
		t.Fatal(err)
	}
	if got := srv.Requests()[0]; got.Model != "gpt-test" || len(got.Tools) != 0 {
		t.Errorf("request model %q tools %v; want gpt-test and none", got.Model, got.ToolNames())
	}
}

func TestClient_ServerErrorsBecomeErrProviderAfterRetries(t *testing.T) {
	for _, retries := range []int{0, 2} {
		srv, url := llmtest.Start(t, func(int, *llmtest.Request) llmtest.Reply {
			return llmtest.Reply{Status: http.StatusInternalServerError}
		})
		_, err := newClient(t, url, retries).Complete(context.Background(), userTurn("hi", nil))
		if !errors.Is(err, llm.ErrProvider) {
			t.Errorf("retries=%d: err = %v; want ErrProvider", retries, err)
		}
		if err != nil && !strings.Contains(err.Error(), "500") {
			t.Errorf("retries=%d: err %q does not name the upstream status", retries, err)
		}
		if got := srv.Count(); got != 1+retries {
			t.Errorf("retries=%d: attempts = %d; want %d", retries, got, 1+retries)
		}
	}
}

func TestClient_RetriesRateLimitThenSucceeds(t *testing.T) {
	srv, url := llmtest.Start(t, func(n int, _ *llmtest.Request) llmtest.Reply {
		if n == 0 {
			return llmtest.Reply{Status: http.StatusTooManyRequests}
		}
		return llmtest.Reply{Content: "after the wait"}
	})
	resp, err := newClient(t, url, 2).Complete(context.Background(), userTurn("hi", nil))
	if err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if resp.Message.Content != "after the wait" || srv.Count() != 2 {
		t.Errorf("content %q after %d attempts; want the second attempt's answer", resp.Message.Content, srv.Count())
	}
}

func TestClient_ContextDeadlineIsNotAProviderError(t *testing.T) {
	_, url := llmtest.Start(t, func(int, *llmtest.Request) llmtest.Reply {
		return llmtest.Reply{Content: "too late", Delay: 10 * time.Second}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := newClient(t, url, 2).Complete(ctx, userTurn("hi", nil))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v; want a deadline error", err)
	}
	if errors.Is(err, llm.ErrProvider) {
		t.Errorf("err = %v wraps ErrProvider; a caller's deadline is not the provider's failure", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Complete took %s after a 100ms deadline", d)
	}
}

// model.timeout bounds each attempt; an attempt that runs out of it while
// the run still has time is the provider's failure (502), not a run timeout
// (504) or an internal error.
func TestClient_PerAttemptTimeoutIsAProviderError(t *testing.T) {
	srv, url := llmtest.Start(t, func(int, *llmtest.Request) llmtest.Reply {
		return llmtest.Reply{Content: "too late", Delay: 10 * time.Second}
	})
	m, err := openai.New(openai.Config{BaseURL: url, APIKey: "sk-test", Model: "gpt-test",
		MaxRetries: 2, MaxRetryDelay: 5 * time.Millisecond, Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = m.Complete(context.Background(), userTurn("hi", nil))
	if !errors.Is(err, llm.ErrProvider) || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v; want ErrProvider, not a deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Complete took %s with a 100ms model.timeout", d)
	}
	// At most one: on a loaded machine the 100 ms can pass before the
	// request even reaches the server.
	if n := srv.Count(); n > 1 {
		t.Errorf("attempts = %d; the SDK does not retry its own timeout, want at most 1", n)
	}
}

// A model response is read whole, so its size is bounded: a server that
// sends more than MaxResponseBytes gets a provider error, not gatehouse's
// memory.
func TestClient_OversizedResponseIsAProviderError(t *testing.T) {
	huge := strings.Repeat("a", openai.MaxResponseBytes+1)
	_, answerURL := llmtest.Start(t, func(int, *llmtest.Request) llmtest.Reply { return llmtest.Reply{Content: huge} })
	// An error status is read whole too (for its message).
	errorSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"error":{"message":"`+huge+`"}}`)
	}))
	defer errorSrv.Close()
	for name, url := range map[string]string{"answer": answerURL, "error body": errorSrv.URL + "/v1"} {
		_, err := newClient(t, url, 0).Complete(context.Background(), userTurn("hi", nil))
		if !errors.Is(err, llm.ErrProvider) || !strings.Contains(err.Error(), "larger than") {
			t.Errorf("%s: err = %v; want ErrProvider naming the size", name, err)
		}
	}
	// Just under the bound still works.
	content := strings.Repeat("a", openai.MaxResponseBytes-4096)
	_, url := llmtest.Start(t, func(int, *llmtest.Request) llmtest.Reply { return llmtest.Reply{Content: content} })
	resp, err := newClient(t, url, 0).Complete(context.Background(), userTurn("hi", nil))
	if err != nil || len(resp.Message.Content) != len(content) {
		t.Errorf("a response under the bound: err %v", err)
	}
}

// Every call, concurrent ones too, sends each tool's own schema as given.
func TestClient_SendsEachToolsSchemaOnEveryCall(t *testing.T) {
	srv, url := llmtest.Start(t, func(int, *llmtest.Request) llmtest.Reply { return llmtest.Reply{Content: "done"} })
	tools := []llm.ToolDef{
		{Name: "a", Parameters: json.RawMessage(`{"type":"object","properties":{"x":{"type":"string"}},"required":["x"]}`)},
		{Name: "b", Parameters: json.RawMessage(`{"type":"object","properties":{"n":{"type":"integer","minimum":1}}}`)},
		{Name: "c"},
	}
	m := newClient(t, url, 0)
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			if _, err := m.Complete(context.Background(), userTurn("hi", tools)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for _, r := range srv.Requests() {
		for i, tl := range r.Tools {
			var got, want any
			_ = json.Unmarshal(tl.Function.Parameters, &got)
			_ = json.Unmarshal(tools[i].Parameters, &want)
			if diff := cmp.Diff(want, got); tl.Function.Name != tools[i].Name || diff != "" {
				t.Errorf("tool %d %s: schema (-want +got):\n%s", i, tl.Function.Name, diff)
			}
		}
	}
}

// A tool schema that is not JSON is refused before anything is sent.
func TestClient_RefusesAToolSchemaThatIsNotJSON(t *testing.T) {
	srv, url := llmtest.Start(t, func(int, *llmtest.Request) llmtest.Reply { return llmtest.Reply{Content: "done"} })
	tools := []llm.ToolDef{{Name: "a", Parameters: json.RawMessage(`{"type":`)}}
	if _, err := newClient(t, url, 0).Complete(context.Background(), userTurn("hi", tools)); err == nil {
		t.Error("a schema that is not JSON was accepted")
	}
	if _, err := newClient(t, url, 0).Stream(context.Background(), userTurn("hi", tools), func(llm.Delta) error { return nil }); err == nil {
		t.Error("a schema that is not JSON was accepted when streaming")
	}
	if n := srv.Count(); n != 0 {
		t.Errorf("the upstream got %d requests", n)
	}
}
