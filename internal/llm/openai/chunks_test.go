package openai

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/openaiwire"
)

// sseServer answers every request with the events body(n) for the n-th
// request (from 0), as a streaming model server would.
func sseServer(t *testing.T, body func(n int) string) (url string, requests *atomic.Int32) {
	t.Helper()
	requests = new(atomic.Int32)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n := int(requests.Add(1)) - 1
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = w.Write([]byte(body(n)))
	}))
	t.Cleanup(srv.Close)
	return srv.URL, requests
}

// events is the data lines as server-sent events.
func events(data ...string) string {
	var b strings.Builder
	for _, d := range data {
		b.WriteString("data: " + d + "\n\n")
	}
	return b.String()
}

func testClient(t *testing.T, url string, retries int) *Client {
	t.Helper()
	c, err := New(Config{BaseURL: url, APIKey: "sk-test", Model: "gpt-test", MaxRetries: retries,
		MaxRetryDelay: 5 * time.Millisecond, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const (
	role   = `{"id":"c1","model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`
	hello  = `{"id":"c1","model":"m","choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}]}`
	stop   = `{"id":"c1","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`
	usage  = `{"id":"c1","model":"m","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}`
	toolsF = `{"id":"c1","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`
)

// call is a chunk with one tool-call fragment of the first choice.
func call(index, rest string) string {
	return `{"id":"c1","model":"m","choices":[{"index":0,"delta":{"tool_calls":[{` + index + rest + `}]},"finish_reason":null}]}`
}

// The streamed chunks are decoded into plain structs and assembled by our
// own code; every stream here is also read the SDK's way (its chunk type
// and ChatCompletionAccumulator, as streamOnce did before) and must come
// out the same: the same deltas, the same turn, the same error.
func TestStreamOnce_AssemblesChunksAsTheSDKDid(t *testing.T) {
	helloResp := &llm.Response{Model: "m", Message: llm.Message{Role: "assistant", Content: "Hello"}, FinishReason: "stop",
		Usage: llm.Usage{PromptTokens: 5, CompletionTokens: 3, TotalTokens: 8}}
	tests := []struct {
		name       string
		body       string
		wantDeltas []llm.Delta
		want       *llm.Response
		wantErr    string // a provider error containing this
	}{
		{
			name:       "content, finish, usage, done",
			body:       events(role, hello, stop, usage, "[DONE]"),
			wantDeltas: []llm.Delta{{Content: "Hello"}},
			want:       helloResp,
		},
		{
			name: "tool call fragments across chunks, a lone call numbered -1",
			body: events(role,
				call(`"index":-1,`, `"id":"call_1","type":"function","function":{"name":"claims_status","arguments":""}`),
				call(`"index":-1,`, `"function":{"arguments":"{\"claim_id\":"}`),
				call(`"index":-1,`, `"function":{"arguments":"\"CLM-1\"}"}`),
				toolsF, "[DONE]"),
			wantDeltas: []llm.Delta{
				{ToolCalls: []llm.ToolCallDelta{{Index: 0, ID: "call_1", Name: "claims_status"}}},
				{ToolCalls: []llm.ToolCallDelta{{Index: 0, Arguments: `{"claim_id":`}}},
				{ToolCalls: []llm.ToolCallDelta{{Index: 0, Arguments: `"CLM-1"}`}}},
			},
			want: &llm.Response{Model: "m", FinishReason: "tool_calls", Message: llm.Message{Role: "assistant",
				ToolCalls: []llm.ToolCall{{ID: "call_1", Name: "claims_status", Arguments: `{"claim_id":"CLM-1"}`}}}},
		},
		{
			name: "two calls interleaved, the index absent taken as 0",
			body: events(
				call(``, `"id":"call_a","type":"function","function":{"name":"a","arguments":"{"}`),
				call(`"index":1,`, `"id":"call_b","type":"function","function":{"name":"b","arguments":"["}`),
				call(`"index":0,`, `"function":{"arguments":"}"}`),
				call(`"index":1,`, `"function":{"arguments":"]"}`),
				toolsF, "[DONE]"),
			wantDeltas: []llm.Delta{
				{ToolCalls: []llm.ToolCallDelta{{Index: 0, ID: "call_a", Name: "a", Arguments: "{"}}},
				{ToolCalls: []llm.ToolCallDelta{{Index: 1, ID: "call_b", Name: "b", Arguments: "["}}},
				{ToolCalls: []llm.ToolCallDelta{{Index: 0, Arguments: "}"}}},
				{ToolCalls: []llm.ToolCallDelta{{Index: 1, Arguments: "]"}}},
			},
			want: &llm.Response{Model: "m", FinishReason: "tool_calls", Message: llm.Message{Role: "assistant",
				ToolCalls: []llm.ToolCall{{ID: "call_a", Name: "a", Arguments: "{}"}, {ID: "call_b", Name: "b", Arguments: "[]"}}}},
		},
		{
			name: "a sparse index leaves a gap that is not a call",
			body: events(call(`"index":2,`, `"id":"call_c","type":"function","function":{"name":"c","arguments":"{}"}`), toolsF),
			wantDeltas: []llm.Delta{
				{ToolCalls: []llm.ToolCallDelta{{Index: 2, ID: "call_c", Name: "c", Arguments: "{}"}}},
			},
			want: &llm.Response{Model: "m", FinishReason: "tool_calls", Message: llm.Message{Role: "assistant",
				ToolCalls: []llm.ToolCall{{ID: "call_c", Name: "c", Arguments: "{}"}}}},
		},
		{
			name: "calls are the turn's in index order, whatever order they arrive in",
			body: events(
				call(`"index":1,`, `"id":"call_b","type":"function","function":{"name":"b","arguments":"[]"}`),
				call(`"index":0,`, `"id":"call_a","type":"function","function":{"name":"a","arguments":"{}"}`),
				toolsF),
			wantDeltas: []llm.Delta{
				{ToolCalls: []llm.ToolCallDelta{{Index: 1, ID: "call_b", Name: "b", Arguments: "[]"}}},
				{ToolCalls: []llm.ToolCallDelta{{Index: 0, ID: "call_a", Name: "a", Arguments: "{}"}}},
			},
			want: &llm.Response{Model: "m", FinishReason: "tool_calls", Message: llm.Message{Role: "assistant",
				ToolCalls: []llm.ToolCall{{ID: "call_a", Name: "a", Arguments: "{}"}, {ID: "call_b", Name: "b", Arguments: "[]"}}}},
		},
		{
			name: "other choices are not the turn's",
			body: events(
				`{"id":"c1","model":"m","choices":[{"index":1,"delta":{"content":"other"},"finish_reason":null},{"index":0,"delta":{"content":"Hello"},"finish_reason":null}]}`,
				`{"id":"c1","model":"m","choices":[{"index":1,"delta":{},"finish_reason":"length"}]}`,
				stop, usage),
			wantDeltas: []llm.Delta{{Content: "Hello"}},
			want:       helloResp,
		},
		{
			name:       "nothing after [DONE] is read",
			body:       events(hello, stop, usage, "[DONE]", `{"error":{"message":"late"}}`),
			wantDeltas: []llm.Delta{{Content: "Hello"}},
			want:       helloResp,
		},
		{
			name:       "comments and an event type are framing only",
			body:       ": keep-alive\n\n" + "event: message\n" + events(hello) + events(stop, usage),
			wantDeltas: []llm.Delta{{Content: "Hello"}},
			want:       helloResp,
		},
		{
			name:       "a chunk of another completion",
			body:       events(hello, strings.Replace(stop, `"c1"`, `"c2"`, 1)),
			wantDeltas: []llm.Delta{{Content: "Hello"}},
			wantErr:    "does not fit",
		},
		{
			name:       "a chunk without the id after one with it",
			body:       events(hello, strings.Replace(stop, `"id":"c1",`, ``, 1)),
			wantDeltas: []llm.Delta{{Content: "Hello"}},
			wantErr:    "does not fit",
		},
		{
			name:       "a choice index past 127",
			body:       events(hello, strings.Replace(stop, `"index":0`, `"index":128`, 1)),
			wantDeltas: []llm.Delta{{Content: "Hello"}},
			wantErr:    "does not fit",
		},
		{
			name:       "a tool-call index below -1",
			body:       events(hello, call(`"index":-2,`, `"function":{"arguments":"{}"}`), toolsF),
			wantDeltas: []llm.Delta{{Content: "Hello"}},
			wantErr:    "does not fit",
		},
		{
			name:       "a tool-call index past the growth bound",
			body:       events(hello, call(`"index":128,`, `"function":{"arguments":"{}"}`), toolsF),
			wantDeltas: []llm.Delta{{Content: "Hello"}},
			wantErr:    "does not fit",
		},
		{
			name:       "an error event mid-stream",
			body:       events(hello) + "event: error\n" + events(`{"error":{"message":"the model crashed","type":"server_error"}}`),
			wantDeltas: []llm.Delta{{Content: "Hello"}},
			wantErr:    `received error while streaming: {"message":"the model crashed","type":"server_error"}`,
		},
		{
			name:       "an error given as a string, without an event type",
			body:       events(hello, `{"error":"overloaded"}`),
			wantDeltas: []llm.Delta{{Content: "Hello"}},
			wantErr:    "received error while streaming: overloaded",
		},
		{
			name:       "an error member beside a chunk wins",
			body:       events(hello, strings.Replace(stop, `{"id"`, `{"error":{"message":"no"},"id"`, 1)),
			wantDeltas: []llm.Delta{{Content: "Hello"}},
			wantErr:    `received error while streaming: {"message":"no"}`,
		},
		{
			name:       "the stream ends before the model finished",
			body:       events(role, hello, usage, "[DONE]"),
			wantDeltas: []llm.Delta{{Content: "Hello"}},
			wantErr:    "ended before the model finished",
		},
		{
			name:       "a chunk that is not JSON",
			body:       events(hello, `{"id":"c1","choices":[`),
			wantDeltas: []llm.Delta{{Content: "Hello"}},
			wantErr:    "provider",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url, _ := sseServer(t, func(int) string { return tc.body })
			c := testClient(t, url, 0)
			body, err := c.encodeRequest(llm.Request{Messages: []llm.Message{{Role: "user", Content: "hi"}}}, true)
			if err != nil {
				t.Fatal(err)
			}
			for _, way := range []struct {
				name string
				run  func(context.Context, []byte, func(llm.Delta) error) (*llm.Response, error)
			}{
				{"plain structs", func(ctx context.Context, b []byte, f func(llm.Delta) error) (*llm.Response, error) {
					resp, _, err := c.streamOnce(ctx, b, f)
					return resp, err
				}},
				{"sdk", c.sdkStreamOnce},
			} {
				var deltas []llm.Delta
				resp, err := way.run(context.Background(), body, func(d llm.Delta) error {
					deltas = append(deltas, d)
					return nil
				})
				if diff := cmp.Diff(tc.wantDeltas, deltas); diff != "" {
					t.Errorf("%s: deltas (-want +got):\n%s", way.name, diff)
				}
				if tc.wantErr != "" {
					if !errors.Is(err, llm.ErrProvider) || !strings.Contains(err.Error(), tc.wantErr) || resp != nil {
						t.Errorf("%s: Stream = %v, %v; want a provider error with %q", way.name, resp, err, tc.wantErr)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: %v", way.name, err)
				}
				if diff := cmp.Diff(tc.want, resp); diff != "" {
					t.Errorf("%s: response (-want +got):\n%s", way.name, diff)
				}
			}
		})
	}
}

// A chunk that does not fit, before any delta, breaks the stream as a cut
// connection does: it is asked for again.
func TestStream_ChunkThatDoesNotFitBeforeAnyDeltaIsAskedAgain(t *testing.T) {
	url, requests := sseServer(t, func(n int) string {
		if n == 0 {
			return events(role, strings.Replace(hello, `"c1"`, `"c2"`, 1), stop)
		}
		return events(role, hello, stop, usage, "[DONE]")
	})
	var got []llm.Delta
	resp, err := testClient(t, url, 1).Stream(context.Background(), llm.Request{Messages: []llm.Message{{Role: "user", Content: "hi"}}},
		func(d llm.Delta) error { got = append(got, d); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if n := requests.Load(); n != 2 || resp.Message.Content != "Hello" || len(got) != 1 {
		t.Errorf("%d requests, response %q, %d deltas; want 2, %q, 1", n, resp.Message.Content, len(got), "Hello")
	}
}

// A server numbering its calls sparsely (each chunk as far past the last
// as the SDK's bound allows) makes the assembly hold the fragments it sent,
// not the gaps: what a stream makes gatehouse hold stays within its bytes.
func TestAssembly_SparseCallIndicesHoldOnlyWhatArrived(t *testing.T) {
	var a assembly
	const chunks = 1000
	for k := range chunks {
		j := (k+1)*maxToolCallGrowth - 1
		c := openaiwire.ChatCompletionChunk{ID: "c1", Choices: []openaiwire.ChunkChoice{{Delta: openaiwire.Message{
			ToolCalls: []openaiwire.ToolCall{{Index: &j, Function: openaiwire.FunctionCall{Arguments: "x"}}}}}}}
		if _, ok := a.add(&c); !ok {
			t.Fatalf("chunk %d (index %d) refused", k, j)
		}
	}
	if len(a.calls) != chunks || a.ncalls != chunks*maxToolCallGrowth {
		t.Errorf("%d calls held, %d counted; want %d held, %d counted", len(a.calls), a.ncalls, chunks, chunks*maxToolCallGrowth)
	}
	j := a.ncalls + maxToolCallGrowth // one past the bound
	c := openaiwire.ChatCompletionChunk{ID: "c1", Choices: []openaiwire.ChunkChoice{{Delta: openaiwire.Message{
		ToolCalls: []openaiwire.ToolCall{{Index: &j}}}}}}
	if _, ok := a.add(&c); ok {
		t.Errorf("index %d after %d calls was taken", j, a.ncalls)
	}
}
