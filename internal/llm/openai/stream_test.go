package openai_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/llm/llmtest"
	"github.com/gatehousehq/gatehouse/internal/llm/openai"
	"github.com/gatehousehq/gatehouse/internal/openaiwire"
)

// collect is an onDelta that keeps every delta and when it arrived.
type collect struct {
	deltas []llm.Delta
	at     []time.Time
}

func (c *collect) add(d llm.Delta) error {
	c.deltas = append(c.deltas, d)
	c.at = append(c.at, time.Now())
	return nil
}

func (c *collect) content() string {
	var b strings.Builder
	for _, d := range c.deltas {
		b.WriteString(d.Content)
	}
	return b.String()
}

// calls assembles the tool-call deltas as a pass-through would.
func (c *collect) calls() []llm.ToolCall {
	var out []llm.ToolCall
	for _, d := range c.deltas {
		for _, tc := range d.ToolCalls {
			for len(out) <= tc.Index {
				out = append(out, llm.ToolCall{})
			}
			call := &out[tc.Index]
			if tc.ID != "" {
				call.ID = tc.ID
			}
			if tc.Name != "" {
				call.Name = tc.Name
			}
			call.Arguments += tc.Arguments
		}
	}
	return out
}

func TestClient_StreamDeliversContentAsItArrives(t *testing.T) {
	pieces := []string{"one ", "two ", "three ", "four ", "five ", "six ", "seven ", "eight ", "nine ", "ten"}
	_, url := llmtest.Start(t, func(int, *llmtest.Request) llmtest.Reply {
		return llmtest.Reply{Chunks: pieces, ChunkDelay: 100 * time.Millisecond}
	})
	var got collect
	start := time.Now()
	resp, err := newClient(t, url, 0).Stream(context.Background(), userTurn("count", nil), got.add)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.deltas) != len(pieces) {
		t.Fatalf("%d deltas; want one per chunk, %d", len(got.deltas), len(pieces))
	}
	first, last := got.at[0].Sub(start), got.at[len(got.at)-1].Sub(start)
	// The chunks leave the server 100 ms apart: the first arrives after
	// about 100 ms, the last after about a second.
	if first > 400*time.Millisecond || last-first < 700*time.Millisecond {
		t.Errorf("first delta after %s, last after %s; want the first long before the last", first, last)
	}
	want := strings.Join(pieces, "")
	if got.content() != want || resp.Message.Content != want || resp.FinishReason != "stop" {
		t.Errorf("deltas %q, response %q (%s); want %q", got.content(), resp.Message.Content, resp.FinishReason, want)
	}
}

func TestClient_StreamAssemblesToolCallDeltasAndUsage(t *testing.T) {
	calls := []llmtest.ToolCall{
		llmtest.Call("call_abc", "claims_status", `{"claim_id":"CLM-1001"}`),
		llmtest.Call("call_def", "payments_lookup", `{"customer_id":"C-100"}`),
	}
	srv, url := llmtest.Start(t, func(int, *llmtest.Request) llmtest.Reply {
		return llmtest.Reply{Chunks: []string{"Let me ", "look."}, ToolCalls: calls}
	})
	var got collect
	resp, err := newClient(t, url, 0).Stream(context.Background(), userTurn("CLM-1001 C-100", demoTools), got.add)
	if err != nil {
		t.Fatal(err)
	}
	wantCalls := []llm.ToolCall{
		{ID: "call_abc", Name: "claims_status", Arguments: `{"claim_id":"CLM-1001"}`},
		{ID: "call_def", Name: "payments_lookup", Arguments: `{"customer_id":"C-100"}`},
	}
	want := &llm.Response{
		Model:        "gpt-test",
		Message:      llm.Message{Role: "assistant", Content: "Let me look.", ToolCalls: wantCalls},
		Usage:        llm.Usage{PromptTokens: 20, CompletionTokens: 10, TotalTokens: 30},
		FinishReason: "tool_calls",
	}
	if diff := cmp.Diff(want, resp); diff != "" {
		t.Errorf("assembled response (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantCalls, got.calls()); diff != "" {
		t.Errorf("tool calls from the deltas (-want +got):\n%s", diff)
	}
	toolDeltas := 0
	for _, d := range got.deltas {
		toolDeltas += len(d.ToolCalls)
	}
	if toolDeltas < 2*len(calls) {
		t.Errorf("%d tool-call deltas; the server split each call over several chunks", toolDeltas)
	}
	req := srv.Requests()[0]
	if !req.Stream || req.StreamOptions == nil || !req.StreamOptions.IncludeUsage {
		t.Errorf("request stream=%v stream_options=%+v; want a stream with usage", req.Stream, req.StreamOptions)
	}
}

func TestClient_StreamRetriesOnlyBeforeTheFirstDelta(t *testing.T) {
	tests := []struct {
		name         string
		first        llmtest.Reply
		wantErr      bool
		wantRequests int
	}{
		{"rate limited, then answered", llmtest.Reply{Status: http.StatusTooManyRequests}, false, 2},
		{"error event before any content", llmtest.Reply{StreamError: "overloaded"}, false, 2},
		{"connection cut before any content", llmtest.Reply{Chunks: []string{"never"}, BreakAfter: -1}, false, 2},
		{"connection cut after content", llmtest.Reply{Chunks: []string{"a", "b", "c"}, BreakAfter: 2}, true, 1},
		{"error event after content", llmtest.Reply{Chunks: []string{"a"}, StreamError: "overloaded"}, true, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, url := llmtest.Start(t, func(n int, _ *llmtest.Request) llmtest.Reply {
				if n == 0 {
					return tc.first
				}
				return llmtest.Reply{Chunks: []string{"after ", "the retry"}}
			})
			var got collect
			resp, err := newClient(t, url, 2).Stream(context.Background(), userTurn("hi", nil), got.add)
			if n := srv.Count(); n != tc.wantRequests {
				t.Errorf("requests = %d; want %d", n, tc.wantRequests)
			}
			if tc.wantErr {
				if !errors.Is(err, llm.ErrProvider) {
					t.Fatalf("err = %v; want ErrProvider", err)
				}
				if got.content() != "a" && got.content() != "ab" {
					t.Errorf("delivered %q before the failure", got.content())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if resp.Message.Content != "after the retry" || got.content() != "after the retry" {
				t.Errorf("response %q, deltas %q; want only the retry's answer", resp.Message.Content, got.content())
			}
		})
	}
}

// Retries before the first delta share Config.MaxRetries with the SDK's:
// a stream that keeps breaking is asked for 1 + MaxRetries times.
func TestClient_StreamRetriesAreBounded(t *testing.T) {
	srv, url := llmtest.Start(t, func(n int, _ *llmtest.Request) llmtest.Reply {
		if n%2 == 0 {
			return llmtest.Reply{Status: http.StatusServiceUnavailable}
		}
		return llmtest.Reply{StreamError: "overloaded"}
	})
	_, err := newClient(t, url, 3).Stream(context.Background(), userTurn("hi", nil), (&collect{}).add)
	if !errors.Is(err, llm.ErrProvider) {
		t.Fatalf("err = %v; want ErrProvider", err)
	}
	if n := srv.Count(); n != 4 {
		t.Errorf("requests = %d; want 1 + MaxRetries = 4", n)
	}
}

func TestClient_StreamErrorMidStreamIsSurfaced(t *testing.T) {
	_, url := llmtest.Start(t, func(int, *llmtest.Request) llmtest.Reply {
		return llmtest.Reply{Chunks: []string{"partial"}, StreamError: "the model crashed"}
	})
	var got collect
	resp, err := newClient(t, url, 0).Stream(context.Background(), userTurn("hi", nil), got.add)
	if !errors.Is(err, llm.ErrProvider) || !strings.Contains(err.Error(), "the model crashed") || resp != nil {
		t.Errorf("Stream = %v, %v; want ErrProvider naming the upstream's error", resp, err)
	}
	if got.content() != "partial" {
		t.Errorf("delivered %q before the error; want %q", got.content(), "partial")
	}
}

// An error from onDelta (the client went away) ends the turn at once: it is
// returned as it is and the upstream request is abandoned.
func TestClient_StreamStopsWhenOnDeltaFails(t *testing.T) {
	_, url := llmtest.Start(t, func(int, *llmtest.Request) llmtest.Reply {
		return llmtest.Reply{ChunkSeq: llmtest.Repeat(1000, "x"), ChunkDelay: 10 * time.Millisecond}
	})
	errGone := errors.New("client gone")
	n := 0
	start := time.Now()
	_, err := newClient(t, url, 2).Stream(context.Background(), userTurn("hi", nil), func(llm.Delta) error {
		n++
		if n == 3 {
			return errGone
		}
		return nil
	})
	if !errors.Is(err, errGone) || n != 3 {
		t.Errorf("err = %v after %d deltas; want errGone after 3", err, n)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Stream took %s to stop", d)
	}
}

func TestClient_StreamEndsWithTheCallersContext(t *testing.T) {
	_, url := llmtest.Start(t, func(int, *llmtest.Request) llmtest.Reply {
		return llmtest.Reply{ChunkSeq: llmtest.Repeat(1000, "x"), ChunkDelay: 10 * time.Millisecond}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	_, err := newClient(t, url, 2).Stream(ctx, userTurn("hi", nil), func(llm.Delta) error {
		if n++; n == 3 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || errors.Is(err, llm.ErrProvider) {
		t.Errorf("err = %v; want the caller's cancellation, not a provider error", err)
	}
	if n > 5 {
		t.Errorf("%d deltas after the cancellation", n-3)
	}
}

// A long answer streams through with memory bounded by what it assembles:
// nothing holds the body, and nothing grows faster than the content.
func TestClient_StreamOfAThousandChunksKeepsMemoryFlat(t *testing.T) {
	const chunks, size = 1000, 1024
	piece := strings.Repeat("y", size)
	_, url := llmtest.Start(t, func(int, *llmtest.Request) llmtest.Reply {
		return llmtest.Reply{ChunkSeq: llmtest.Repeat(chunks, piece)}
	})
	m := newClient(t, url, 0)
	heap := func() (inuse, total uint64) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse, ms.TotalAlloc
	}
	baseInuse, baseTotal := heap()
	var peak uint64
	n := 0
	resp, err := m.Stream(context.Background(), userTurn("long", nil), func(d llm.Delta) error {
		if n++; n%100 == 0 {
			inuse, _ := heap()
			peak = max(peak, inuse)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_, total := heap()
	content := uint64(chunks * size)
	if n != chunks || uint64(len(resp.Message.Content)) != content {
		t.Fatalf("%d deltas, %d bytes; want %d and %d", n, len(resp.Message.Content), chunks, content)
	}
	if grown := int64(peak) - int64(baseInuse); grown > int64(4*content) {
		t.Errorf("heap grew by %d bytes for a %d-byte answer", grown, content)
	}
	if alloc := total - baseTotal; alloc > 40*content {
		t.Errorf("allocated %d bytes for a %d-byte answer (client and server); want under %d", alloc, content, 40*content)
	}
	t.Logf("heap peak growth %d, allocated %d (client and server) for %d bytes", int64(peak)-int64(baseInuse), total-baseTotal, content)
}

func TestClient_SendsPassThroughToolsAndOptions(t *testing.T) {
	srv, url := llmtest.Start(t, func(int, *llmtest.Request) llmtest.Reply { return llmtest.Reply{Content: "ok"} })
	temp, topP, maxTok, maxCompl, seed, parallel := 0.2, 0.9, int64(100), int64(200), int64(7), false
	req := userTurn("hi", []llm.ToolDef{{
		Name: "send_email", Description: "Send an e-mail",
		Parameters: json.RawMessage(`{"type":"object","properties":{"to":{"type":"string"}},"required":["to"]}`),
	}})
	req.Options = llm.Options{
		Temperature: &temp, TopP: &topP, MaxTokens: &maxTok, MaxCompletionTokens: &maxCompl,
		Seed: &seed, ParallelToolCalls: &parallel, Stop: []string{"END"},
		ToolChoice: &llm.ToolChoice{Function: "send_email"},
	}
	c := newClient(t, url, 0)
	if _, err := c.Complete(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	req.Options.ToolChoice = &llm.ToolChoice{Mode: "required"}
	if _, err := c.Stream(context.Background(), req, (&collect{}).add); err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	for i, got := range reqs {
		if got.Temperature == nil || *got.Temperature != temp || got.TopP == nil || *got.TopP != topP ||
			got.MaxTokens == nil || *got.MaxTokens != maxTok || got.MaxCompletionTokens == nil || *got.MaxCompletionTokens != maxCompl ||
			got.Seed == nil || *got.Seed != seed || got.ParallelToolCalls == nil || *got.ParallelToolCalls != parallel ||
			!slices.Equal(got.Stop, []string{"END"}) {
			t.Errorf("request %d options not as set: %+v", i, got)
		}
		if len(got.Tools) != 1 || got.Tools[0].Function.Description != "Send an e-mail" ||
			!strings.Contains(string(got.Tools[0].Function.Parameters), `"required":["to"]`) {
			t.Errorf("request %d tool = %+v", i, got.Tools)
		}
	}
	// The upstream reads a function only from {"type":"function",...} and
	// a mode only from a string.
	if got := reqs[0].ToolChoice; got == nil || *got != (openaiwire.ToolChoice{Function: "send_email"}) {
		t.Errorf("tool_choice for a function = %+v", got)
	}
	if got := reqs[1].ToolChoice; got == nil || *got != (openaiwire.ToolChoice{Mode: "required"}) {
		t.Errorf("tool_choice for a mode = %+v", got)
	}
	// Nothing set, nothing sent: the provider's defaults hold.
	if _, err := c.Complete(context.Background(), userTurn("hi", nil)); err != nil {
		t.Fatal(err)
	}
	if got := srv.Requests()[2]; got.Temperature != nil || got.MaxTokens != nil || got.ToolChoice != nil || got.ParallelToolCalls != nil || got.Stop != nil {
		t.Errorf("options sent though none were set: %+v", got)
	}
}

var _ llm.Streamer = (*openai.Client)(nil)

// The response-size bound holds for a stream as for a whole answer.
func TestClient_OversizedStreamIsAProviderError(t *testing.T) {
	huge := strings.Repeat("a", 1<<20)
	_, url := llmtest.Start(t, func(int, *llmtest.Request) llmtest.Reply {
		return llmtest.Reply{ChunkSeq: llmtest.Repeat(openai.MaxResponseBytes>>20+1, huge)}
	})
	_, err := newClient(t, url, 0).Stream(context.Background(), userTurn("hi", nil), (&collect{}).add)
	if !errors.Is(err, llm.ErrProvider) || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("err = %v; want ErrProvider naming the size", err)
	}
}
