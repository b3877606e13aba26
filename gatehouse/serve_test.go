package gatehouse

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/authn"
	"github.com/gatehousehq/gatehouse/internal/llm/llmtest"
)

const serveConfig = `server: {addr: "127.0.0.1:0"}
model: {provider: openai, base_url: %q, model: m, api_key_env: KEY, max_retries: 0}
auth:
  api_keys:
    - {subject: agent, sha256: %q, roles: [agent]}
    - {subject: boss, sha256: %q, roles: [agent]}
authz:
  roles: {agent: [respond]}
%s
agents:
  a: {default: true, tools: [greet]}
audit: {dsn: "sqlite://%[5]s/audit.db", content: none}
sessions: {dsn: "sqlite://%[5]s/sessions.db"}
`

func TestServe_RegisteredToolPassesThePolicyGate(t *testing.T) {
	reg := NewRegistry()
	err := reg.Register(ToolDef{
		Name: "greet", Description: "Greets someone",
		Parameters: json.RawMessage(`{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}`),
		Policy:     Policy{Permission: "respond", Condition: `principal.subject == "agent"`},
		Func: func(_ context.Context, c Call) (any, error) {
			return fmt.Sprintf("Hello, %s (asked by %s)", c.Args["name"], c.Caller.Subject), nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, upstream := llmtest.Start(t, func(n int, req *llmtest.Request) llmtest.Reply {
		if req.Last().Role == "tool" {
			return llmtest.Reply{Content: req.Last().Text()}
		}
		return llmtest.Reply{ToolCalls: []llmtest.ToolCall{llmtest.Call("c1", "greet", `{"name":"Ada"}`)}}
	})
	agentKey, agentHash, _ := authn.NewKey()
	bossKey, bossHash, _ := authn.NewKey()
	dir := t.TempDir()
	write := func(tools string) string {
		p := filepath.Join(dir, "gatehouse.yaml")
		os.WriteFile(p, []byte(fmt.Sprintf(serveConfig, upstream, agentHash, bossHash, tools, dir)), 0o600)
		return p
	}
	getenv := func(k string) string { return map[string]string{"KEY": "k"}[k] }

	t.Run("a config may not replace a registered tool", func(t *testing.T) {
		err := Serve(context.Background(), reg, ServeOptions{ConfigPath: write(`tools: {greet: {type: builtin, permission: respond}}`), Getenv: getenv})
		if err == nil || !strings.Contains(err.Error(), "registered by the program") {
			t.Fatalf("Serve: %v", err)
		}
	})

	ctx, cancel := context.WithCancel(context.Background())
	base := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, reg, ServeOptions{ConfigPath: write(""), Getenv: getenv, Listening: func(u string) { base <- u }})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	var url string
	select {
	case url = <-base:
	case err := <-done:
		t.Fatalf("Serve: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("not listening")
	}
	chat := func(key string) map[string]any {
		req, _ := http.NewRequest("POST", url+"/v1/chat", strings.NewReader(`{"message":"greet Ada"}`))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var out map[string]any
		json.Unmarshal(b, &out)
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
		return out
	}
	out := chat(agentKey)
	if out["response"] != `"Hello, Ada (asked by agent)"` {
		t.Errorf("agent: %v", out)
	}
	out = chat(bossKey)
	call := out["tool_calls"].([]any)[0].(map[string]any)
	if call["decision"] != "deny" || strings.Contains(fmt.Sprint(out["response"]), "Hello") {
		t.Errorf("the condition did not hold for boss: %v", out)
	}
}
