package llmtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// usage is what every scripted answer reports.
var usage = map[string]any{"prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30}

// stream answers req with server-sent chat.completion.chunk events, each
// written and flushed as it is made, so nothing is held but the current one.
func stream(w http.ResponseWriter, r *http.Request, n int, req *Request, rep Reply) {
	flusher, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	withUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	id, created := fmt.Sprintf("chatcmpl-%d", n), time.Now().Unix()
	send := func(v any) bool {
		b, _ := json.Marshal(v)
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return false
		}
		if flusher != nil {
			flusher.Flush()
		}
		return r.Context().Err() == nil
	}
	wait := func() bool {
		if rep.ChunkDelay <= 0 {
			return true
		}
		t := time.NewTimer(rep.ChunkDelay)
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case <-r.Context().Done():
			return false
		}
	}
	chunk := func(delta map[string]any, finish any) map[string]any {
		c := map[string]any{
			"id": id, "object": "chat.completion.chunk", "created": created, "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": nil}},
		}
		if withUsage {
			c["usage"] = nil // as OpenAI sends it on every chunk but the last
		}
		return c
	}
	if !send(chunk(map[string]any{"role": "assistant", "content": ""}, nil)) {
		return
	}
	pieces := rep.ChunkSeq
	if pieces == nil {
		chunks := rep.Chunks
		if len(chunks) == 0 && rep.Content != "" {
			chunks = []string{rep.Content}
		}
		pieces = func(yield func(string) bool) {
			for _, c := range chunks {
				if !yield(c) {
					return
				}
			}
		}
	}
	sent := 0
	for piece := range pieces {
		if rep.BreakAfter != 0 && sent == max(rep.BreakAfter, 0) {
			panic(http.ErrAbortHandler) // the connection is cut, quietly
		}
		if !wait() || !send(chunk(map[string]any{"content": piece}, nil)) {
			return
		}
		sent++
	}
	if rep.StreamError != "" {
		send(map[string]any{"error": map[string]any{"message": rep.StreamError, "type": "server_error"}})
		return
	}
	for i, tc := range rep.ToolCalls {
		first := map[string]any{"index": i, "id": tc.ID, "type": "function",
			"function": map[string]any{"name": tc.Function.Name, "arguments": ""}}
		if !wait() || !send(chunk(map[string]any{"tool_calls": []any{first}}, nil)) {
			return
		}
		for _, part := range thirds(tc.Function.Arguments) {
			next := map[string]any{"index": i, "function": map[string]any{"arguments": part}}
			if !wait() || !send(chunk(map[string]any{"tool_calls": []any{next}}, nil)) {
				return
			}
		}
	}
	finish := "stop"
	if len(rep.ToolCalls) > 0 {
		finish = "tool_calls"
	}
	if !send(chunk(map[string]any{}, finish)) {
		return
	}
	if withUsage {
		if !send(map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": req.Model,
			"choices": []any{}, "usage": usage}) {
			return
		}
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	if flusher != nil {
		flusher.Flush()
	}
}

// thirds cuts s into up to three pieces, as models split a tool call's
// arguments over several chunks (a cut may fall inside a character).
func thirds(s string) []string {
	if len(s) < 3 {
		return []string{s}
	}
	a, b := len(s)/3, 2*len(s)/3
	return []string{s[:a], s[a:b], s[b:]}
}
