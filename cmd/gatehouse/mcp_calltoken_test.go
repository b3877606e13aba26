package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gatehousehq/gatehouse/pkg/calltoken"
)

// authSeen records the Authorization of each JSON-RPC method a server got.
type authSeen struct {
	mu   sync.Mutex
	auth map[string][]string
}

func (a *authSeen) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		var msg struct {
			Method string `json:"method"`
		}
		_ = json.Unmarshal(body, &msg)
		a.mu.Lock()
		a.auth[msg.Method] = append(a.auth[msg.Method], r.Header.Get("Authorization"))
		a.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func (a *authSeen) of(method string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.auth[method]...)
}

// A streamable-HTTP MCP server with call_token: each tools/call carries a
// token Gatehouse signed for that call (its tool, the caller, the
// arguments' hash), which the server checks with pkg/calltoken; the
// connection's other requests carry the server's own configured header,
// and the caller's credential reaches the server nowhere.
func TestCallToken_MCPServerGetsOneTokenPerCall(t *testing.T) {
	seen := &authSeen{auth: map[string][]string{}}
	remote := remoteServer("echoes text")
	hs := httptest.NewServer(seen.wrap(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return remote }, nil)))
	t.Cleanup(hs.Close)
	keyFile := newKeyFile(t)
	g := startGateway(t, gwOptions{config: func(g *gateway) string {
		cfg := g.withIdentity(identityYAML{server: fmt.Sprintf("  public_url: %q\n", publicURL),
			auth: fmt.Sprintf("  call_tokens: {key_file: %q, ttl: 30s}\n", keyFile)})
		cfg = strings.Replace(cfg, "agents:\n", "  remote_echo: {type: mcp, server: remote, tool: echo, permission: claims.read}\nagents:\n", 1)
		return cfg + "mcp_servers:\n  remote: {url: \"" + hs.URL + "\", headers: {Authorization: \"Bearer remote-own-token\"}, call_token: {audience: \"https://remote.test\"}}\n"
	}})
	waitMCPTool(t, g, "agent", "remote_echo")
	s := mcpSession(t, g, "agent")
	res, err := s.CallTool(context.Background(), &mcp.CallToolParams{Name: "remote_echo", Arguments: map[string]any{"text": "hi"}})
	if err != nil || res.IsError {
		t.Fatalf("tools/call: %v %+v", err, res.Content[0])
	}
	calls := seen.of("tools/call")
	if len(calls) != 1 || !strings.HasPrefix(calls[0], "Bearer ") || calls[0] == "Bearer remote-own-token" {
		t.Fatalf("tools/call carried %q, want one call token", calls)
	}
	v, err := calltoken.New(calltoken.Config{JWKSURL: g.base + "/.well-known/jwks.json", Issuer: publicURL,
		Audience: "https://remote.test", Tool: "remote_echo", Replay: calltoken.NewReplayCache(10)})
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimPrefix(calls[0], "Bearer ")
	c, err := v.Verify(context.Background(), tok, map[string]any{"text": "hi"})
	if err != nil || c.Subject != "agent" {
		t.Fatalf("the server's check: %+v, %v", c, err)
	}
	if _, err := v.Verify(context.Background(), tok, map[string]any{"text": "hi"}); err == nil {
		t.Error("a replayed call token was accepted")
	}
	other, err := calltoken.New(calltoken.Config{JWKSURL: g.base + "/.well-known/jwks.json", Audience: "https://remote.test", Tool: "other"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Verify(context.Background(), tok, map[string]any{"text": "hi"}); err == nil {
		t.Error("a token for remote_echo was accepted for another tool")
	}
	for _, m := range []string{"initialize", "tools/list"} {
		for _, a := range seen.of(m) {
			if a != "Bearer remote-own-token" {
				t.Errorf("%s carried %q, want the server's own configured header", m, a)
			}
		}
	}
	for m, as := range seen.auth {
		for _, a := range as {
			if strings.Contains(a, g.keys["agent"]) {
				t.Errorf("the caller's key reached the server in %s", m)
			}
		}
	}
}
