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
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/openaiwire"
)

// Message is a chat message as the client sent it.
type Message = openaiwire.Message

// ToolCall is the wire form of a tool call.
type ToolCall = openaiwire.ToolCall

// Call makes a function tool call.
func Call(id, name, arguments string) ToolCall { return openaiwire.Call(id, name, arguments) }

// Request is one chat completions request as received, decoded as
// gatehouse decodes its own clients' (openaiwire.DecodeChatRequest): a
// member the protocol does not have, or one named twice, is answered 400.
type Request struct {
	openaiwire.ChatRequest
	// Header holds the request's HTTP headers (traceparent, ...).
	Header http.Header
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
		writeError(w, http.StatusNotFound, "not found", "invalid_request_error", "")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, "read", "invalid_request_error", "")
		return
	}
	cr, err := openaiwire.DecodeChatRequest(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid request: "+err.Error(), "invalid_request_error", "")
		return
	}
	req := Request{ChatRequest: *cr, Header: r.Header.Clone()}
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
	if rep.Status != 0 && rep.Status != http.StatusOK {
		writeError(w, rep.Status, "scripted failure", "server_error", strconv.Itoa(rep.Status))
		return
	}
	if req.Stream {
		stream(w, r, n, &req, rep)
		return
	}
	finish := "stop"
	msg := openaiwire.Message{Role: "assistant", Content: openaiwire.Text(rep.Content), ToolCalls: rep.ToolCalls}
	if len(rep.ToolCalls) > 0 {
		finish = "tool_calls"
		if rep.Content == "" {
			msg.Content = nil
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(openaiwire.ChatCompletion{
		ID: fmt.Sprintf("chatcmpl-%d", n), Object: "chat.completion", Created: time.Now().Unix(), Model: req.Model,
		Choices: []openaiwire.Choice{{Message: msg, FinishReason: finish}}, Usage: &usage,
	})
}

// writeError answers with status and OpenAI's error body.
func writeError(w http.ResponseWriter, status int, message, typ, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(openaiwire.ErrorBody{Error: openaiwire.ErrorObject{Message: message, Type: typ, Code: code}})
}
