package llmtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/gatehousehq/gatehouse/internal/openaiwire"
)

// usage is what every scripted answer reports.
var usage = openaiwire.Usage{PromptTokens: 20, CompletionTokens: 10, TotalTokens: 30}

// nullUsageChunk is a chunk with "usage": null, as OpenAI sends every chunk
// but the last when the usage is asked for.
type nullUsageChunk struct {
	openaiwire.ChatCompletionChunk
	Usage *openaiwire.Usage `json:"usage"`
}

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
	chunk := func(delta openaiwire.Message, finish *string) any {
		c := openaiwire.ChatCompletionChunk{ID: id, Object: "chat.completion.chunk", Created: created, Model: req.Model,
			Choices: []openaiwire.ChunkChoice{{Delta: delta, FinishReason: finish}}}
		if withUsage {
			return nullUsageChunk{ChatCompletionChunk: c}
		}
		return c
	}
	if !send(chunk(openaiwire.Message{Role: "assistant", Content: openaiwire.Text("")}, nil)) {
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
		if !wait() || !send(chunk(openaiwire.Message{Content: openaiwire.Text(piece)}, nil)) {
			return
		}
		sent++
	}
	if rep.StreamError != "" {
		send(openaiwire.ErrorBody{Error: openaiwire.ErrorObject{Message: rep.StreamError, Type: "server_error"}})
		return
	}
	for i, tc := range rep.ToolCalls {
		first := openaiwire.Call(tc.ID, tc.Function.Name, "")
		first.Index = &i
		if !wait() || !send(chunk(openaiwire.Message{ToolCalls: []openaiwire.ToolCall{first}}, nil)) {
			return
		}
		for _, part := range thirds(tc.Function.Arguments) {
			next := openaiwire.ToolCall{Index: &i, Function: openaiwire.FunctionCall{Arguments: part}}
			if !wait() || !send(chunk(openaiwire.Message{ToolCalls: []openaiwire.ToolCall{next}}, nil)) {
				return
			}
		}
	}
	finish := "stop"
	if len(rep.ToolCalls) > 0 {
		finish = "tool_calls"
	}
	if !send(chunk(openaiwire.Message{}, &finish)) {
		return
	}
	if withUsage {
		if !send(openaiwire.ChatCompletionChunk{ID: id, Object: "chat.completion.chunk", Created: created, Model: req.Model,
			Choices: []openaiwire.ChunkChoice{}, Usage: &usage}) {
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
