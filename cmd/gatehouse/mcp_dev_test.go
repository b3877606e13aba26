package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Dev mode shows an MCP tool under policy with no network: its demo
// knowledge base runs as a stdio MCP server (this program's `mcp
// demo-server`), and kb_read may read public documents only.
func TestDevMode_MCPDemoKnowledgeBaseUnderPathWithin(t *testing.T) {
	g := startDevAt(t, filepath.Join(t.TempDir(), "gatehouse-data"))
	base := g.base
	for deadline := time.Now().Add(20 * time.Second); ; {
		resp, err := http.Get(base + "/ready")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), `"name":"demo_kb","up":true`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo MCP server did not come up: %s\n%s", b, g.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	chat := func(msg string) map[string]any {
		body, _ := json.Marshal(map[string]string{"message": msg})
		req, _ := http.NewRequest("POST", base+"/v1/chat", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+g.keys["agent"])
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		if resp.StatusCode != 200 {
			t.Fatalf("chat %q: %d %v", msg, resp.StatusCode, m)
		}
		return m
	}
	ok := chat("please read /kb/public/claims.md")
	if calls := ok["tool_calls"].([]any); len(calls) != 1 || calls[0].(map[string]any)["status"] != "ok" || !strings.Contains(ok["response"].(string), "Filing a claim") {
		t.Errorf("public document: %v", ok)
	}
	for _, p := range []string{"/kb/internal/fraud-rules.md", "/kb/public/../internal/fraud-rules.md", "/kb/public//../internal/fraud-rules.md", "/kb/public-old/../internal/fraud-rules.md"} {
		m := chat("read " + p)
		calls := m["tool_calls"].([]any)
		if len(calls) != 1 || calls[0].(map[string]any)["status"] != "denied" || strings.Contains(m["response"].(string), "INTERNAL") {
			t.Errorf("%s: %v", p, m)
		}
	}
}
