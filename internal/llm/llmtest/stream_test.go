package llmtest_test

import (
	"bufio"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse/internal/llm/llmtest"
	"github.com/gatehousehq/gatehouse/internal/openaiwire"
)

// The stream is OpenAI's wire format, readable by any client: data lines of
// chat.completion.chunk objects, a usage chunk when asked for, then [DONE].
func TestServer_StreamsChunksInTheWireFormat(t *testing.T) {
	_, url := llmtest.Start(t, func(int, *llmtest.Request) llmtest.Reply {
		return llmtest.Reply{Chunks: []string{"a", "b"}, ToolCalls: []llmtest.ToolCall{llmtest.Call("c1", "t", `{"k":"value"}`)}}
	})
	for _, withUsage := range []bool{false, true} {
		body := `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`
		if withUsage {
			body = `{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`
		}
		res, err := http.Post(url+"/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Errorf("content type %q", ct)
		}
		var events []string
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			line := sc.Text()
			if line == "" {
				continue
			}
			data, ok := strings.CutPrefix(line, "data: ")
			if !ok {
				t.Fatalf("line %q is not a data line", line)
			}
			events = append(events, data)
		}
		res.Body.Close()
		if events[len(events)-1] != "[DONE]" {
			t.Fatalf("last event %q; want [DONE]", events[len(events)-1])
		}
		var content, args, finish string
		usageChunks := 0
		for _, e := range events[:len(events)-1] {
			var c openaiwire.ChatCompletionChunk
			if err := openaiwire.DecodeChunk([]byte(e), &c); err != nil || c.Object != "chat.completion.chunk" {
				t.Fatalf("event %s: %v", e, err)
			}
			for _, ch := range c.Choices {
				content += ch.Delta.Text()
				for _, tc := range ch.Delta.ToolCalls {
					args += tc.Function.Arguments
				}
				if ch.FinishReason != nil {
					finish = *ch.FinishReason
				}
			}
			if c.Usage != nil {
				usageChunks++
				if len(c.Choices) != 0 || c.Usage.TotalTokens != 30 {
					t.Errorf("usage chunk %s", e)
				}
			}
		}
		if content != "ab" || args != `{"k":"value"}` || finish != "tool_calls" {
			t.Errorf("content %q args %q finish %q", content, args, finish)
		}
		if want := map[bool]int{false: 0, true: 1}[withUsage]; usageChunks != want {
			t.Errorf("include_usage=%v: %d usage chunks; want %d", withUsage, usageChunks, want)
		}
	}
}
