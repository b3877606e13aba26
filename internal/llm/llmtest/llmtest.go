// Package llmtest is a scripted OpenAI-compatible chat completions server
// speaking the real wire format, whole and streamed (server-sent
// chat.completion.chunk events), for tests and the load harness. It is the
// one faked part of gatehouse's tests: the client side is the real openai-go.
package llmtest

import (
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Message is a chat message as the client sent it.
type Message struct {
	Role       string     `json:"role"`
	Content    any        `json:"content"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
}

// Text returns the message content when it is a plain string.
func (m Message) Text() string {
	s, _ := m.Content.(string)
	return s
}

// ToolCall is the wire form of a tool call.
type ToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// Call makes a function tool call.
func Call(id, name, arguments string) ToolCall {
	tc := ToolCall{ID: id, Type: "function"}
	tc.Function.Name, tc.Function.Arguments = name, arguments
	return tc
}

// Request is one chat completions request as received.
type Request struct {
	Model    string    `json:"model"`
	Messages []Message `json:"messages"`
	Tools    []struct {
		Type     string `json:"type"`
		Function struct {
			Name        string          `json:"name"`
			Description string          `json:"description"`
			Parameters  json.RawMessage `json:"parameters"`
		} `json:"function"`
	} `json:"tools"`
	Stream        bool `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	// The options a pass-through forwards, as sent (nil when absent).
	Temperature         *float64        `json:"temperature"`
	TopP                *float64        `json:"top_p"`
	MaxTokens           *int64          `json:"max_tokens"`
	MaxCompletionTokens *int64          `json:"max_completion_tokens"`
	Seed                *int64          `json:"seed"`
	ParallelToolCalls   *bool           `json:"parallel_tool_calls"`
	ToolChoice          json.RawMessage `json:"tool_choice"`
	Stop                json.RawMessage `json:"stop"`
	// Header holds the request's HTTP headers (traceparent, ...).
	Header http.Header `json:"-"`
}

// ToolNames lists the tools offered in the request.
func (r *Request) ToolNames() []string {
	var out []string
	for _, t := range r.Tools {
		out = append(out, t.Function.Name)
	}
	return out
}

// Last returns the last message.
func (r *Request) Last() Message { return r.Messages[len(r.Messages)-1] }

// Reply is what the script answers with.
type Reply struct {
	Content   string
	ToolCalls []ToolCall
	// Status, when not 0 or 200, answers with that HTTP status and an
	// OpenAI-style error body.
	Status int
	// Delay waits before answering (or until the client gives up).
	Delay time.Duration

	// A request with "stream": true is answered with chunk events: the
	// role, the content's pieces, each tool call over several chunks (id
	// and name, then its arguments in pieces), the finish reason, the usage
	// when stream_options.include_usage asks for it, then [DONE].

	// Chunks are the content's pieces, one event each; empty means Content
	// as one piece.
	Chunks []string
	// ChunkSeq, when set, yields the pieces instead, one at a time, for
	// answers too long to hold (see Repeat).
	ChunkSeq iter.Seq[string]
	// ChunkDelay waits before each content and tool-call event.
	ChunkDelay time.Duration
	// BreakAfter, when not 0, cuts the connection after that many content
	// events (a negative number: before any): no finish reason, no [DONE].
	BreakAfter int
	// StreamError, when set, is sent as an error event after the content,
	// in place of the finish (as OpenAI reports a failure mid-stream).
	StreamError string
}

// Repeat yields piece n times: a long streamed answer that is never held
// whole by the server.
func Repeat(n int, piece string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for range n {
			if !yield(piece) {
				return
			}
		}
	}
}

// Script decides the reply to the n-th request (0-based).
type Script func(n int, req *Request) Reply

// Server is a scripted upstream.
type Server struct {
	script Script
	count  atomic.Int64
	mu     sync.Mutex
	reqs   []Request
	// Keep, when false, skips recording requests (the load harness).
	Keep bool
}

// NewHandler returns the upstream as an http.Handler.
func NewHandler(script Script) *Server { return &Server{script: script, Keep: true} }

// Start serves script on a loopback httptest server closed at test end and
// returns the base URL to give the OpenAI client (ending in /v1).
func Start(t testing.TB, script Script) (*Server, string) {
	s := NewHandler(script)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts.URL + "/v1"
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// Count is how many requests arrived.
func (s *Server) Count() int { return int(s.count.Load()) }

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
		http.Error(w, `{"error":{"message":"not found","type":"invalid_request_error"}}`, http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		http.Error(w, "read", http.StatusBadRequest)
		return
	}
	var req Request
	if err := json.Unmarshal(body, &req); err != nil || len(req.Messages) == 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":{"message":"invalid request","type":"invalid_request_error"}}`)
		return
	}
	req.Header = r.Header.Clone()
	n := int(s.count.Add(1) - 1)
	if s.Keep {
		s.mu.Lock()
		s.reqs = append(s.reqs, req)
		s.mu.Unlock()
	}
	rep := s.script(n, &req)
	if rep.Delay > 0 {
		select {
		case <-time.After(rep.Delay):
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if rep.Status != 0 && rep.Status != http.StatusOK {
		w.WriteHeader(rep.Status)
		fmt.Fprintf(w, `{"error":{"message":"scripted failure","type":"server_error","code":"%d"}}`, rep.Status)
		return
	}
	if req.Stream {
		stream(w, r, n, &req, rep)
		return
	}
	finish := "stop"
	if len(rep.ToolCalls) > 0 {
		finish = "tool_calls"
	}
	msg := map[string]any{"role": "assistant", "content": rep.Content}
	if len(rep.ToolCalls) > 0 {
		msg["tool_calls"] = rep.ToolCalls
		if rep.Content == "" {
			msg["content"] = nil
		}
	}
	_ = json.NewEncoder(w).Encode(map[string]any{
		"id": fmt.Sprintf("chatcmpl-%d", n), "object": "chat.completion", "created": time.Now().Unix(),
		"model":   req.Model,
		"choices": []any{map[string]any{"index": 0, "message": msg, "finish_reason": finish, "logprobs": nil}},
		"usage":   usage,
	})
}
