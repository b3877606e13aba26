package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/llm/llmtest"
)

// askToolScript is a model that calls the tool a message names, as
// {"tool": NAME, "args": {...}}, then answers with what the tool returned;
// every message it is sent is kept in seen.
func askToolScript(seen *[]string, mu *sync.Mutex) llmtest.Script {
	return func(n int, req *llmtest.Request) llmtest.Reply {
		mu.Lock()
		for _, m := range req.Messages {
			b, _ := json.Marshal(m)
			*seen = append(*seen, string(b))
		}
		mu.Unlock()
		last := req.Last()
		if last.Role == "tool" {
			return llmtest.Reply{Content: "tool said: " + last.Text()}
		}
		var ask struct {
			Tool string          `json:"tool"`
			Args json.RawMessage `json:"args"`
		}
		if err := json.Unmarshal([]byte(last.Text()), &ask); err != nil || ask.Tool == "" {
			return llmtest.Reply{Content: "no tool asked for"}
		}
		return llmtest.Reply{ToolCalls: []llmtest.ToolCall{llmtest.Call("call_1", ask.Tool, string(ask.Args))}}
	}
}

// fsTree makes the folders the filesystem tests read: the served folder,
// a sibling sharing its name's prefix, a secret outside both, and symlinks
// inside the served folder that lead out of it.
func fsTree(t *testing.T) (root string) {
	t.Helper()
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"srv/docs/readme.txt":         "PUBLIC-README",
		"srv/docs/sub/a.txt":          "PUBLIC-A",
		"srv/docs-private/secret.txt": "SECRET-SIBLING",
		"secret.txt":                  "SECRET-OUTSIDE",
	}
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{
		"srv/docs/link.txt": "../docs-private/secret.txt",
		"srv/docs/up":       "../..",
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func nodeBin(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is required for the MCP interop tests")
	}
	return node
}

// mcpConfig renders the test config with extra tools for the support agent
// and an mcp_servers section.
func mcpConfig(g *gateway, tools, agentTools, servers string) string {
	c := g.renderConfig(allUsers, gwOptions{extraYAML: tools})
	c = strings.Replace(c, "tools: [claims_status, payments_lookup, policy_update]", "tools: [claims_status, payments_lookup, policy_update, "+agentTools+"]", 1)
	return c + "mcp_servers:\n" + servers
}

func TestMCP_FilesystemServerUnderPathWithin(t *testing.T) {
	root := fsTree(t)
	docs := filepath.Join(root, "srv", "docs")
	serverJS, _ := filepath.Abs("../../test/interop/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js")
	var mu sync.Mutex
	var seen []string
	g := startGateway(t, gwOptions{script: askToolScript(&seen, &mu), config: func(g *gateway) string {
		return mcpConfig(g,
			`  docs_read:  {type: mcp, server: docs, tool: read_text_file, permission: claims.read,
               condition: 'path_within(args.path, "`+docs+`")'}
  docs_write: {type: mcp, server: docs, tool: write_file, permission: policy.write,
               condition: 'path_within(args.path, "`+docs+`")'}`,
			"docs_read, docs_write",
			`  docs: {command: ["`+nodeBin(t)+`", "`+serverJS+`", "`+docs+`"], refresh_interval: 1s}
`)
	}})
	waitMCPTool(t, g, "agent", "docs_read")

	ask := func(user, tool string, args map[string]any) (status, decision, response string) {
		t.Helper()
		a, _ := json.Marshal(args)
		msg, _ := json.Marshal(map[string]any{"tool": tool, "args": json.RawMessage(a)})
		r := g.do("POST", "/v1/chat", user, map[string]any{"message": string(msg)})
		if r.status != 200 {
			t.Fatalf("%s %s %v: %d %s", user, tool, args, r.status, r.raw)
		}
		calls, _ := r.body["tool_calls"].([]any)
		if len(calls) != 1 {
			t.Fatalf("%s %s %v: tool_calls %v", user, tool, args, r.body["tool_calls"])
		}
		c := calls[0].(map[string]any)
		return c["status"].(string), c["decision"].(string), r.str("response")
	}

	// Inside the folder, however the path is spelled: read.
	for _, p := range []string{docs + "/readme.txt", docs + "/./readme.txt", root + "/srv//docs/readme.txt", docs + "/sub/../readme.txt"} {
		status, decision, resp := ask("agent", "docs_read", map[string]any{"path": p})
		if status != "ok" || decision != "allow" || !strings.Contains(resp, "PUBLIC-README") {
			t.Errorf("read %s: %s %s %q", p, status, decision, resp)
		}
	}
	// Out of it by .., ., //, or a sibling sharing the prefix: refused
	// by the condition, the server is never asked.
	for _, p := range []string{
		docs + "/../secret.txt", docs + "/./../docs-private/secret.txt", root + "/srv//docs/../../secret.txt",
		root + "/srv/docs-private/secret.txt", docs + "-private/secret.txt", docs + "/sub/../../../secret.txt",
		"srv/docs/readme.txt",
	} {
		status, decision, _ := ask("agent", "docs_read", map[string]any{"path": p})
		if status != "denied" || decision != "deny" {
			t.Errorf("read %q: %s %s, want denied", p, status, decision)
		}
	}
	// A NUL is refused before any condition: no string argument holds one.
	if status, decision, _ := ask("agent", "docs_read", map[string]any{"path": docs + "\x00/../../secret.txt"}); status != "invalid_arguments" || decision != "deny" {
		t.Errorf("read a path with a NUL: %s %s, want invalid_arguments", status, decision)
	}
	// Symlinks inside the folder that lead out of it: the condition is
	// lexical and lets them through; the server, confined to the folder,
	// resolves them and refuses.
	for _, p := range []string{docs + "/link.txt", docs + "/up/secret.txt", docs + "/up/srv/docs-private/secret.txt"} {
		status, decision, _ := ask("agent", "docs_read", map[string]any{"path": p})
		if status != "error" || decision != "allow" {
			t.Errorf("read %s: %s %s, want an allowed call the server refuses", p, status, decision)
		}
	}
	// The write tool: offered to admins only.
	status, decision, _ := ask("agent", "docs_write", map[string]any{"path": docs + "/new.txt", "content": "by agent"})
	if status != "denied" || decision != "deny" {
		t.Errorf("agent write: %s %s", status, decision)
	}
	if _, err := os.Stat(docs + "/new.txt"); err == nil {
		t.Error("the agent's write reached the disk")
	}
	status, decision, _ = ask("admin", "docs_write", map[string]any{"path": docs + "/new.txt", "content": "by admin"})
	if b, _ := os.ReadFile(docs + "/new.txt"); status != "ok" || decision != "allow" || string(b) != "by admin" {
		t.Errorf("admin write: %s %s, file %q", status, decision, b)
	}
	status, _, _ = ask("admin", "docs_write", map[string]any{"path": docs + "/../escaped.txt", "content": "x"})
	if _, err := os.Stat(root + "/srv/escaped.txt"); status != "denied" || err == nil {
		t.Errorf("admin write outside: %s (file exists: %v)", status, err == nil)
	}

	// Nothing refused ever reached the model.
	mu.Lock()
	all := strings.Join(seen, "\n")
	mu.Unlock()
	for _, secret := range []string{"SECRET-SIBLING", "SECRET-OUTSIDE"} {
		if strings.Contains(all, secret) {
			t.Errorf("%s reached the model", secret)
		}
	}
	// The audit trail of an MCP call has the shape of any other tool's.
	evs := openAuditLog(t, sqliteAuditDSN(g)).all()
	var decided, finished *audit.Event
	for i, e := range evs {
		if e.Resource == "tool:docs_read" && e.Subject == "agent" && decided == nil && e.Type == audit.TypeToolDecided && e.Decision == audit.Allow {
			decided = &evs[i]
		}
		if e.Resource == "tool:docs_read" && e.Subject == "agent" && finished == nil && e.Type == audit.TypeToolFinished && e.Outcome == "ok" {
			finished = &evs[i]
		}
	}
	if decided == nil || finished == nil {
		t.Fatalf("no tool.decided/tool.finished for docs_read")
	}
	if decided.RunID == "" || decided.AuthMethod != "api_key" || !strings.Contains(decided.Rule, "path_within") || decided.Content["arguments"] == "" {
		t.Errorf("tool.decided = %+v", decided)
	}
	if !strings.HasPrefix(decided.Content["arguments"], audit.HMACPrefix) {
		t.Errorf("arguments stored as %q, want their HMAC (audit.content: hmac)", decided.Content["arguments"])
	}
	if finished.Reason != "MCP server docs, tool read_text_file" {
		t.Errorf("tool.finished reason %q does not name the server and tool", finished.Reason)
	}
}

// waitMCPTool waits until user's chat offers tool (the server listed it).
func waitMCPTool(t *testing.T, g *gateway, user, tool string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		r := g.do("GET", "/ready", "", nil)
		if strings.Contains(r.raw, `"up":true`) && !strings.Contains(r.raw, `"`+tool+`"`) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the MCP server never came up: %s", g.do("GET", "/ready", "", nil).raw)
}
