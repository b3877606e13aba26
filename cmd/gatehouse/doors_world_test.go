package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gatehousehq/gatehouse/internal/audit"
)

// doorWorld is one gatehouse whose config declares each tool of the
// conformance table twice, with the same policy: a server tool (type:
// http, run by the agent and /mcp doors) and a client tool (type: client,
// released by the pass-through), so every cell exists at every door.
type doorWorld struct {
	g *gateway
	// sideEffects counts the calls that reached a server tool's backend
	// (the HTTP tools and the pinned MCP tool).
	sideEffects *atomic.Int64
	audit       *auditReader
	mcp         *mcp.ClientSession
}

// The tools of the table. Every name the table uses is the base name; the
// server door calls base+"_s", the pass-through base+"_c".
const (
	// send: permission pay.send, a condition on the recipient, and approval
	// for large amounts.
	doorSendPolicy = `permission: pay.send, condition: 'args.to.endsWith("@bank.example")',
           approval: {when: 'args.amount > 1000.0', approvers: [admin]},
           description: "Send money",
           parameters: {type: object, required: [to, amount], properties: {to: {type: string}, amount: {type: number}}}`
	// vault: a permission the caller's role does not grant.
	doorVaultPolicy = `permission: vault.open, description: "Open the vault",
           parameters: {type: object, required: [box], properties: {box: {type: string}}}`
	// wrongPin is no tool's pin: the MCP tool pinned to it is disabled.
	wrongPin = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
)

func doorConfig(backend, remote string) func(g *gateway) string {
	return func(g *gateway) string {
		extra := fmt.Sprintf(`  send_s: {type: http, method: POST, url: "%[1]s/send", %[2]s}
  send_c: {type: client, %[2]s}
  vault_s: {type: http, method: POST, url: "%[1]s/vault", %[3]s}
  vault_c: {type: client, %[3]s}
  pinned_s: {type: mcp, server: remote, tool: echo, permission: pay.send, pin: %[4]q}`, backend, doorSendPolicy, doorVaultPolicy, wrongPin)
		c := g.renderConfig(allUsers, gwOptions{extraYAML: extra})
		c = strings.Replace(c, "agent: [read, respond, claims.read]", "agent: [read, respond, claims.read, llm.use, pay.send]", 1)
		c = strings.Replace(c, "tools: [claims_status, payments_lookup, policy_update]",
			"tools: [claims_status, payments_lookup, policy_update, send_s, vault_s, pinned_s]", 1)
		return c + `passthrough:
  models: {gpt-test: {permission: llm.use, upstream: test-model}}
  max_retries: 2
mcp_servers:
  remote: {url: "` + remote + `", refresh_interval: 200ms}
`
	}
}

// startDoorWorld starts the backends, gatehouse, and an MCP session of the
// caller (user agent), and waits until the MCP tool is disabled by its pin.
func startDoorWorld(t *testing.T) *doorWorld {
	w := &doorWorld{sideEffects: &atomic.Int64{}}
	backend := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.sideEffects.Add(1)
		rw.Header().Set("Content-Type", "application/json")
		fmt.Fprint(rw, `{"done":true}`)
	}))
	t.Cleanup(backend.Close)
	remote := mcp.NewServer(&mcp.Implementation{Name: "remote", Version: "1"}, nil)
	remote.AddTool(&mcp.Tool{Name: "echo", Description: "echoes text",
		InputSchema: json.RawMessage(`{"type":"object","properties":{"text":{"type":"string"}},"required":["text"]}`)},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			w.sideEffects.Add(1)
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "echoed"}}}, nil
		})
	rs := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return remote }, nil))
	t.Cleanup(rs.Close)

	w.g = startGateway(t, gwOptions{script: callScript, config: doorConfig(backend.URL, rs.URL)})
	w.audit = openAuditLog(t, sqliteAuditDSN(w.g))
	w.waitDisabled(t, "pinned_s")
	w.mcp = mcpSession(t, w.g, "agent")
	return w
}

// waitDisabled waits until gatehouse recorded that tool no longer matches
// its pin.
func (w *doorWorld) waitDisabled(t *testing.T, tool string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, e := range w.audit.all() {
			if e.Type == audit.TypeMCPToolChanged && e.Resource == "tool:"+tool {
				return
			}
		}
	}
	t.Fatalf("%s was never disabled by its pin", tool)
}

// bearer adds a caller's API key to every request of the MCP client.
type bearer struct{ key string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.key)
	return http.DefaultTransport.RoundTrip(r)
}

// mcpSession opens an MCP session on /mcp as user, with the go-sdk client.
func mcpSession(t *testing.T, g *gateway, user string) *mcp.ClientSession {
	t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "conformance", Version: "1"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: g.base + "/mcp", DisableStandaloneSSE: true,
		HTTPClient: &http.Client{Transport: bearer{g.keys[user]}, Timeout: 60 * time.Second}}, nil)
	if err != nil {
		t.Fatalf("connect to /mcp: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
