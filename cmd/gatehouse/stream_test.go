package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/llm/llmtest"
)

// sseEvent is one received server-sent event and when it arrived.
type sseEvent struct {
	name string
	data string
	at   time.Time
}

// openStream posts body to path as user and returns the response, whose
// events are read by events.
func (g *gateway) openStream(path, user, body string) *http.Response {
	g.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, g.base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+g.keys[user])
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		g.t.Fatalf("%s: status %d", path, resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		g.t.Fatalf("%s: content type %q", path, ct)
	}
	// The events are read by the test: the document is checked for the
	// status and content type.
	g.checkAPI(req, resp.StatusCode, resp.Header, nil)
	return resp
}

// events reads resp's events until the stream ends, calling each (when not
// nil) as an event arrives; each returning false stops reading.
func events(resp *http.Response, each func(sseEvent) bool) []sseEvent {
	defer resp.Body.Close()
	var out []sseEvent
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var cur sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			cur.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			cur.data = strings.TrimPrefix(line, "data: ")
		case line == "" && cur.data != "":
			cur.at = time.Now()
			out = append(out, cur)
			if each != nil && !each(cur) {
				return out
			}
			cur = sseEvent{}
		}
	}
	return out
}

func contentOf(data string) string {
	var c struct {
		Choices []struct {
			Delta struct {
				Content string `json:"content"`
			} `json:"delta"`
		} `json:"choices"`
	}
	_ = json.Unmarshal([]byte(data), &c)
	if len(c.Choices) == 0 {
		return ""
	}
	return c.Choices[0].Delta.Content
}

func tenSlowChunks(_ int, req *llmtest.Request) llmtest.Reply {
	var pieces []string
	for i := range 10 {
		pieces = append(pieces, "piece"+string(rune('0'+i))+" ")
	}
	return llmtest.Reply{Chunks: pieces, ChunkDelay: 100 * time.Millisecond}
}

// Content reaches the client as the model sends it, through an agent run
// and through the pass-through alike.
func TestStreaming_FirstContentLongBeforeTheLast(t *testing.T) {
	g := startGateway(t, gwOptions{script: tenSlowChunks, config: openAIConfig("")})
	for _, model := range []string{"support_agent", "gpt-test"} {
		t.Run(model, func(t *testing.T) {
			start := time.Now()
			resp := g.openStream("/v1/chat/completions", "agent", `{"model":"`+model+`","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
			var first, last time.Time
			var text strings.Builder
			evs := events(resp, func(e sseEvent) bool {
				if c := contentOf(e.data); c != "" {
					if first.IsZero() {
						first = e.at
					}
					last = e.at
					text.WriteString(c)
				}
				return true
			})
			if got := evs[len(evs)-1].data; got != "[DONE]" {
				t.Fatalf("the stream ended with %q, want [DONE]", got)
			}
			if !strings.HasPrefix(text.String(), "piece0 piece1") || !strings.HasSuffix(text.String(), "piece9 ") {
				t.Fatalf("content %q", text.String())
			}
			// Ten chunks 100 ms apart: the first arrives ~0.9 s before the last.
			if spread := last.Sub(first); spread < 700*time.Millisecond {
				t.Errorf("first content %v after the start, last %v: buffered (spread %v)", first.Sub(start), last.Sub(start), spread)
			}
			if first.Sub(start) > 500*time.Millisecond {
				t.Errorf("first content arrived %v after the request", first.Sub(start))
			}
		})
	}
}

// A 1,000-chunk answer streams without the server's memory growing with it.
func TestStreaming_LongAnswerMemoryStaysFlat(t *testing.T) {
	piece := strings.Repeat("x", 256)
	g := startGateway(t, gwOptions{config: openAIConfig(""), script: func(int, *llmtest.Request) llmtest.Reply {
		return llmtest.Reply{ChunkSeq: llmtest.Repeat(1000, piece)}
	}})
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var peak uint64
	var n int
	resp := g.openStream("/v1/chat/completions", "agent", `{"model":"gpt-test","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	events(resp, func(e sseEvent) bool {
		if contentOf(e.data) != "" {
			n++
			if n%100 == 0 {
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
			}
		}
		return true
	})
	if n != 1000 {
		t.Fatalf("%d content chunks, want 1000", n)
	}
	// The answer itself is 256 KB; holding every chunk's event, or the
	// stream's output, would cost several times that.
	if grow := int64(peak) - int64(before.HeapInuse); grow > 16<<20 {
		t.Errorf("heap in use grew by %d MiB while streaming", grow>>20)
	}
}

// A client that goes away mid-stream cancels the run: its end is recorded
// as cancelled, and nothing of it is left running.
func TestStreaming_DisconnectCancelsTheRun(t *testing.T) {
	g := startGateway(t, gwOptions{script: tenSlowChunks, config: openAIConfig("")})
	// Warm up, so lazily started goroutines (pools, checkpointers) count in the baseline.
	g.do("POST", "/v1/chat", "agent", map[string]string{"message": "hi"})
	testClient.CloseIdleConnections()
	// The audit reader's own goroutines count in the baseline.
	log := openAuditLog(t, sqliteAuditDSN(g))
	log.all()
	baseline := runtime.NumGoroutine()

	for _, path := range []string{"/v1/chat/completions", "/v1/chat"} {
		body := `{"model":"support_agent","stream":true,"messages":[{"role":"user","content":"hi"}]}`
		if path == "/v1/chat" {
			body = `{"message":"hi","stream":true}`
		}
		resp := g.openStream(path, "agent", body)
		got := 0
		events(resp, func(e sseEvent) bool {
			if contentOf(e.data) != "" || e.name == "message.delta" {
				got++
			}
			return got < 2 // then hang up
		})
		if got < 2 {
			t.Fatalf("%s: %d deltas before hanging up", path, got)
		}
	}
	http.DefaultClient.CloseIdleConnections()

	deadline := time.Now().Add(10 * time.Second)
	var cancelled int
	for time.Now().Before(deadline) {
		cancelled = 0
		for _, e := range log.all() {
			if e.Type == audit.TypeRunFinished && e.Outcome == "cancelled" {
				cancelled++
			}
		}
		if cancelled == 2 && runtime.NumGoroutine() <= baseline+2 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if cancelled != 2 {
		t.Errorf("%d runs recorded as cancelled, want 2", cancelled)
	}
	if n := runtime.NumGoroutine(); n > baseline+2 {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines, %d before the streams:\n%s", n, baseline, buf[:runtime.Stack(buf, true)])
	}
}
