package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/mcp/mcptest"
	"github.com/google/go-cmp/cmp"
)

// slowMCPServer is a streamable HTTP MCP server (remoteServer's echo) that
// answers nothing until release is called: its first connection attempt
// lasts as long as the test wants.
func slowMCPServer(t *testing.T) (url string, release func()) {
	t.Helper()
	return mcptest.Slow(t, remoteServer("echoes text"))
}

// deadMCPURL is a loopback URL nothing listens on.
func deadMCPURL(t *testing.T) string {
	t.Helper()
	hs := httptest.NewServer(http.NotFoundHandler())
	hs.Close()
	return hs.URL + "/mcp"
}

// pollReady polls /ready until ok says yes, failing t after 20s.
func pollReady(t *testing.T, g *gateway, what string, ok func(response) bool) response {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := g.do("GET", "/ready", "", nil)
		if ok(r) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("/ready never %s: %d %s", what, r.status, r.raw)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func reasons(r response) []string {
	var out []string
	for _, v := range r.body["reasons"].([]any) {
		out = append(out, v.(string))
	}
	return out
}

func TestReady_WaitsForEachMCPServersFirstConnectionAttempt(t *testing.T) {
	slowURL, release := slowMCPServer(t)
	var mu sync.Mutex
	var seen []string
	g := startGateway(t, gwOptions{script: askToolScript(&seen, &mu), config: func(g *gateway) string {
		return mcpConfig(g, `  slow_echo: {type: mcp, server: slow, tool: echo, permission: claims.read}`, "slow_echo",
			`  slow: {url: "`+slowURL+`"}
  down: {url: "`+deadMCPURL(t)+`", restart_min: 1h, restart_max: 1h}
`)
	}})

	// Not ready while slow's first attempt lasts; down's ends at once (it
	// fails) and holds nothing back.
	r := g.do("GET", "/ready", "", nil)
	if r.status != http.StatusServiceUnavailable || r.str("error") != "mcp_starting" || !strings.Contains(r.str("detail"), "slow") {
		t.Fatalf("/ready while slow connects = %d %s, want 503 mcp_starting naming slow", r.status, r.raw)
	}
	r = pollReady(t, g, "named only slow as starting", func(r response) bool {
		return r.status == http.StatusServiceUnavailable && len(reasons(r)) == 1
	})
	if diff := cmp.Diff([]string{"mcp_servers.slow: the first connection attempt has not ended"}, reasons(r)); diff != "" {
		t.Errorf("reasons (-want +got):\n%s", diff)
	}
	if r.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}

	release()
	r = pollReady(t, g, "answered 200", func(r response) bool { return r.status == http.StatusOK })
	if !strings.Contains(r.raw, `"name":"slow","up":true`) || !strings.Contains(r.raw, `"name":"down","up":false`) || strings.Contains(r.raw, `"starting"`) {
		t.Errorf("/ready once ready = %s", r.raw)
	}
	// The first chat after /ready gets the tool.
	chat := g.do("POST", "/v1/chat", "agent", map[string]any{"message": `{"tool":"slow_echo","args":{"text":"hi"}}`})
	if chat.status != 200 || !strings.Contains(chat.str("response"), "echo:hi") {
		t.Errorf("the first chat after ready: %d %s", chat.status, chat.raw)
	}
}

func TestReady_ServerThatFailsItsFirstAttemptIsNamedDownWhileReady(t *testing.T) {
	g := startGateway(t, gwOptions{config: func(g *gateway) string {
		return mcpConfig(g, `  down_echo: {type: mcp, server: down, tool: echo, permission: claims.read}`, "down_echo",
			`  down: {url: "`+deadMCPURL(t)+`", restart_min: 1h, restart_max: 1h}
`)
	}})
	r := pollReady(t, g, "answered 200", func(r response) bool { return r.status == http.StatusOK })
	if !strings.Contains(r.raw, `"name":"down","up":false,"error":"connect: `) {
		t.Errorf("/ready does not name the server down with its error: %s", r.raw)
	}
}

func TestReady_StartTimeoutBoundsTheWait(t *testing.T) {
	slowURL, _ := slowMCPServer(t) // never released
	g := startGateway(t, gwOptions{config: func(g *gateway) string {
		return mcpConfig(g, `  slow_echo: {type: mcp, server: slow, tool: echo, permission: claims.read}`, "slow_echo",
			`  slow: {url: "`+slowURL+`", start_timeout: 300ms}
`)
	}})
	r := pollReady(t, g, "answered 200", func(r response) bool { return r.status == http.StatusOK })
	if !strings.Contains(r.raw, `"name":"slow","up":false`) || strings.Contains(r.raw, `"starting"`) {
		t.Errorf("/ready after start_timeout = %s", r.raw)
	}
}

// A server a reload adds does not make a ready gatehouse unready (every
// replica reloads at once); /ready names it as starting meanwhile.
func TestReady_ServerAddedByReloadDoesNotMakeGatehouseUnready(t *testing.T) {
	slowURL, release := slowMCPServer(t)
	var cfgText string
	g := startGateway(t, gwOptions{config: func(g *gateway) string {
		cfgText = mcpConfig(g, `  down_echo: {type: mcp, server: down, tool: echo, permission: claims.read}`, "down_echo",
			`  down: {url: "`+deadMCPURL(t)+`", restart_min: 1h, restart_max: 1h}
`)
		return cfgText
	}})
	pollReady(t, g, "answered 200", func(r response) bool { return r.status == http.StatusOK })

	g.writeConfig(cfgText + `  slow: {url: "` + slowURL + `"}
`)
	if r := g.do("POST", "/admin/reload", "admin", nil); r.status != 200 {
		t.Fatalf("reload: %d %s", r.status, r.raw)
	}
	r := g.do("GET", "/ready", "", nil)
	if r.status != http.StatusOK || !strings.Contains(r.raw, `"name":"slow","up":false,"starting":true`) {
		t.Errorf("/ready while the added server connects = %d %s", r.status, r.raw)
	}
	release()
	pollReady(t, g, "showed the added server up", func(r response) bool {
		return r.status == http.StatusOK && strings.Contains(r.raw, `"name":"slow","up":true`)
	})
}
