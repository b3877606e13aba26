package openai

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/llm/llmtest"
)

// BenchmarkComplete is one model call of an agent run (the system
// message, a user message, a tool round, two tools offered) against the
// scripted upstream over loopback, sent two ways through the same SDK
// client: with the SDK's param and response types (sdk-types, how Complete
// was written before) and with the plain wire structs (wire, how it is
// written now). The upstream's share is in both.
//
//	go test -run '^$' -bench Complete -benchmem ./internal/llm/openai/
func BenchmarkComplete(b *testing.B) {
	_, url := llmtest.Start(b, func(_ int, req *llmtest.Request) llmtest.Reply {
		return llmtest.Reply{Content: "Customer C-100 made 2 payments."}
	})
	c, err := New(Config{BaseURL: url, APIKey: "sk-bench", Model: "bench-model", Timeout: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	req := llm.Request{
		Messages: []llm.Message{
			{Role: "system", Content: "You are a concise support assistant for authenticated users."},
			{Role: "user", Content: "What payments did I make?"},
			{Role: "assistant", ToolCalls: []llm.ToolCall{{ID: "call_1", Name: "payments_lookup", Arguments: `{"customer_id":"C-100"}`}}},
			{Role: "tool", ToolCallID: "call_1", Content: `{"customer_id":"C-100","payments":[{"id":"P-1","amount":120.5},{"id":"P-2","amount":80}]}`},
		},
		Tools: []llm.ToolDef{
			{Name: "claims_status", Description: "Look up the status and amount of an insurance claim by its id (e.g. CLM-1001).",
				Parameters: json.RawMessage(`{"type":"object","properties":{"claim_id":{"type":"string","description":"The claim id, e.g. CLM-1001","pattern":"^CLM-[0-9]{1,12}$"}},"required":["claim_id"]}`)},
			{Name: "payments_lookup", Description: "List a customer's payments by customer id (e.g. C-100).",
				Parameters: json.RawMessage(`{"type":"object","properties":{"customer_id":{"type":"string","description":"The customer id, e.g. C-100","pattern":"^C-[0-9]{1,12}$"}},"required":["customer_id"]}`)},
		},
	}
	ctx := context.Background()
	for _, v := range []struct {
		name string
		call func() (*llm.Response, error)
	}{
		{"sdk-types", func() (*llm.Response, error) {
			params, err := c.sdkParams(req)
			if err != nil {
				return nil, err
			}
			resp, err := c.client.Chat.Completions.New(ctx, params)
			if err != nil {
				return nil, err
			}
			return accumulated(resp)
		}},
		{"wire", func() (*llm.Response, error) { return c.Complete(ctx, req) }},
	} {
		b.Run(v.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				resp, err := v.call()
				if err != nil || resp.Message.Content == "" {
					b.Fatal(resp, err)
				}
			}
		})
	}
}
