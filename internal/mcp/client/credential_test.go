package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

type credFunc func(context.Context) (string, error)

func (f credFunc) Bearer(ctx context.Context) (string, error) { return f(ctx) }

// A tool with a call credential sends its bearer on its own tools/call
// only; when the credential cannot be made (a token exchange refused),
// nothing is sent.
func TestTool_CallCredentialRidesOnItsOwnCallOnly(t *testing.T) {
	var mu sync.Mutex
	var calls []string
	srv := newTestServer("echoes its text")
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls = append(calls, r.Header.Get("Authorization"))
		mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	src, _ := started(t, Config{Name: "remote", URL: hs.URL, Headers: map[string]string{"Authorization": "Bearer server-own"},
		RefreshInterval: time.Hour, CallTimeout: 2 * time.Second}, Decl{Name: "remote_echo", Remote: "echo"})
	ok := NewTool(src, "remote_echo", "echo").WithCredential(credFunc(func(context.Context) (string, error) { return "per-call", nil }))
	refused := NewTool(src, "remote_echo", "echo").WithCredential(credFunc(func(context.Context) (string, error) {
		return "", errors.New("the identity provider refused the exchange")
	}))
	waitFor(t, "the first listing", func() bool { return ok.Disabled() == "" })
	mu.Lock()
	before := len(calls)
	mu.Unlock()
	if _, err := call(t, refused, `{"text":"hi"}`); err == nil || !strings.Contains(err.Error(), "refused the exchange") {
		t.Fatalf("a call without its credential: %v", err)
	}
	mu.Lock()
	if len(calls) != before {
		t.Fatalf("a call whose credential failed sent %d requests", len(calls)-before)
	}
	mu.Unlock()
	if _, err := call(t, ok, `{"text":"hi"}`); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := calls[len(calls)-1]; got != "Bearer per-call" {
		t.Errorf("tools/call carried %q", got)
	}
	for _, a := range calls[:before] {
		if a != "Bearer server-own" {
			t.Errorf("a connection request carried %q, want the server's own header", a)
		}
	}
}
