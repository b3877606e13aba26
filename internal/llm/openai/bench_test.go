package openai

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	sdk "github.com/openai/openai-go/v3"

	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/llm/llmtest"
	"github.com/gatehousehq/gatehouse/internal/openaiwire"
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

// BenchmarkStream is one streamed model call (a role chunk, ten content
// chunks, a tool call in four fragments, the finish and the usage) against
// the scripted upstream over loopback, read two ways through the same SDK
// request and SSE framing: with the SDK's chunk type and accumulator (sdk,
// how streamOnce was written before) and with the plain chunk structs and
// our assembly (wire, how it is written now). The upstream's share is in
// both; chunk reads one chunk's data alone, decoded and assembled, without
// the network.
//
//	go test -run '^$' -bench Stream -benchmem ./internal/llm/openai/
func BenchmarkStream(b *testing.B) {
	pieces := []string{"Customer ", "C-100 ", "made ", "two ", "payments: ", "P-1 ", "of 120.50 ", "and ", "P-2 ", "of 80."}
	_, url := llmtest.Start(b, func(int, *llmtest.Request) llmtest.Reply {
		return llmtest.Reply{Chunks: pieces, ToolCalls: []llmtest.ToolCall{llmtest.Call("call_1", "payments_lookup", `{"customer_id":"C-100"}`)}}
	})
	c, err := New(Config{BaseURL: url, APIKey: "sk-bench", Model: "bench-model", Timeout: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	body, err := c.encodeRequest(llm.Request{Messages: []llm.Message{{Role: "user", Content: "What payments did I make?"}}}, true)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	discard := func(llm.Delta) error { return nil }
	for _, v := range []struct {
		name string
		call func() (*llm.Response, error)
	}{
		{"call/sdk", func() (*llm.Response, error) { return c.sdkStreamOnce(ctx, body, discard) }},
		{"call/wire", func() (*llm.Response, error) {
			resp, _, err := c.streamOnce(ctx, body, discard)
			return resp, err
		}},
	} {
		b.Run(v.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				resp, err := v.call()
				if err != nil || len(resp.Message.ToolCalls) != 1 {
					b.Fatal(resp, err)
				}
			}
		})
	}

	data := []byte(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1765000000,"model":"bench-model",` +
		`"choices":[{"index":0,"delta":{"content":"payments: "},"logprobs":null,"finish_reason":null}],"usage":null}` + "\n")
	b.Run("chunk/sdk", func(b *testing.B) {
		b.ReportAllocs()
		var acc sdk.ChatCompletionAccumulator
		for b.Loop() {
			var chunk sdk.ChatCompletionChunk
			if err := json.Unmarshal(data, &chunk); err != nil || !acc.AddChunk(chunk) || sdkDelta(chunk).Content == "" {
				b.Fatal(err)
			}
		}
	})
	b.Run("chunk/wire", func(b *testing.B) {
		b.ReportAllocs()
		var acc assembly
		var chunk openaiwire.StreamedChunk
		for b.Loop() {
			if err := openaiwire.DecodeStreamedChunk(data, &chunk); err != nil || chunk.Error != nil {
				b.Fatal(err)
			}
			if d, ok := acc.add(&chunk.ChatCompletionChunk); !ok || d.Content == "" {
				b.Fatal(d)
			}
		}
	})
}
