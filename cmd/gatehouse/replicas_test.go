package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/llm/llmtest"
	"github.com/gatehousehq/gatehouse/internal/store/storetest"
)

const replicaConfig = `server:
  addr: "127.0.0.1:0"
  rate_limit: {requests_per_minute: {{LIMIT}}, shared: true}
model:
  provider: openai
  base_url: "{{UPSTREAM}}"
  model: test-model
  api_key_env: TEST_OPENAI_KEY
auth:
  api_keys:
{{KEYS}}
authz:
  roles:
    agent: [read, respond]
agents:
  support_agent:
    default: true
    system_message: "You are a concise support assistant."
audit:
  dsn: "{{DSN}}"
  content: none
sessions:
  dsn: "{{DSN}}"
`

// replicaKey is a user's API key in the replica tests.
func replicaKey(user string) string { return "gh_replica_test_key_of_" + user + "_0123456789" }

func writeReplicaConfig(t *testing.T, dir, upstream, dsn string, limit int) string {
	t.Helper()
	var keys strings.Builder
	for _, u := range []string{"alice", "bob", "carol"} {
		sum := sha256.Sum256([]byte(replicaKey(u)))
		fmt.Fprintf(&keys, "    - {subject: %s, sha256: %q, roles: [agent]}\n", u, hex.EncodeToString(sum[:]))
	}
	cfg := strings.NewReplacer("{{LIMIT}}", fmt.Sprint(limit), "{{UPSTREAM}}", upstream, "{{DSN}}", dsn,
		"{{KEYS}}", strings.TrimRight(keys.String(), "\n")).Replace(replicaConfig)
	path := filepath.Join(dir, "gatehouse.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// call makes one request as user and decodes a JSON answer.
func replicaCall(t *testing.T, method, url, user, body string) (int, http.Header, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+replicaKey(user))
	req.Header.Set("Content-Type", "application/json")
	resp, err := crashClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, resp.Header, out
}

var chainLine = regexp.MustCompile(`"audit_chain":"([0-9a-f]+)"`)

// Two gatehouse processes on one PostgreSQL behave as one service: a
// session started on A continues on B and stays its owner's; each writes
// its own audit chain and `audit verify` checks and names both; a shared
// rate limit holds across both.
func TestReplicas_TwoProcessesOnOnePostgreSQL(t *testing.T) {
	storetest.RequirePostgres(t)
	dsn := storetest.PostgresDSN(t)
	bin := buildGatehouse(t)
	up, upURL := llmtest.Start(t, func(n int, req *llmtest.Request) llmtest.Reply {
		return llmtest.Reply{Content: fmt.Sprintf("answer %d to %d messages", n, len(req.Messages))}
	})
	const limit = 6
	cfgPath := writeReplicaConfig(t, t.TempDir(), upURL, dsn, limit)
	env := []string{"TEST_OPENAI_KEY=sk-test", "PATH=" + os.Getenv("PATH")}
	a := startProcess(t, bin, env, "serve", "--config", cfgPath)
	b := startProcess(t, bin, env, "serve", "--config", cfgPath)

	for _, p := range []*process{a, b} {
		if st, _, _ := replicaCall(t, http.MethodGet, p.base+"/ready", "alice", ""); st != http.StatusOK {
			t.Fatalf("%s/ready = %d", p.base, st)
		}
	}

	// A session started on A continues on B.
	st, _, out := replicaCall(t, http.MethodPost, a.base+"/v1/chat", "alice", `{"message":"first question"}`)
	sid, _ := out["session_id"].(string)
	if st != http.StatusOK || sid == "" {
		t.Fatalf("chat on A: %d %v", st, out)
	}
	st, _, out = replicaCall(t, http.MethodPost, b.base+"/v1/chat", "alice", `{"message":"second question","session_id":"`+sid+`"}`)
	if st != http.StatusOK || out["session_id"] != sid {
		t.Fatalf("chat on B continuing A's session: %d %v", st, out)
	}
	reqs := up.Requests()
	if len(reqs) != 2 {
		t.Fatalf("model received %d requests, want 2", len(reqs))
	}
	var texts []string
	for _, m := range reqs[1].Messages {
		texts = append(texts, m.Role+": "+m.Text())
	}
	want := []string{"system: You are a concise support assistant.", "user: first question", "assistant: answer 0 to 2 messages", "user: second question"}
	if strings.Join(texts, "\n") != strings.Join(want, "\n") {
		t.Errorf("B sent the model:\n%s\nwant A's turn before it:\n%s", strings.Join(texts, "\n"), strings.Join(want, "\n"))
	}
	st, _, out = replicaCall(t, http.MethodGet, b.base+"/v1/sessions/"+sid, "alice", "")
	if msgs, _ := out["messages"].([]any); st != http.StatusOK || len(msgs) != 4 {
		t.Errorf("owner reads the session on B: %d, %v", st, out)
	}
	if st, _, out = replicaCall(t, http.MethodGet, b.base+"/v1/sessions/"+sid, "bob", ""); st != http.StatusNotFound {
		t.Errorf("another subject reads alice's session on B: %d %v, want 404", st, out)
	}

	// The shared limit: carol's requests alternate between A and B; the
	// (limit+1)th is refused wherever it lands. The count is per clock
	// minute, so start well inside one.
	if s := time.Now().Second(); s > 45 {
		time.Sleep(time.Duration(61-s) * time.Second)
	}
	for i := range limit + 2 {
		p := []*process{a, b}[i%2]
		st, h, out := replicaCall(t, http.MethodGet, p.base+"/v1/sessions/"+sid, "carol", "")
		switch {
		case i < limit && st != http.StatusNotFound:
			t.Errorf("carol's request %d (on %s) = %d %v, want 404 (allowed, not her session)", i+1, p.base, st, out)
		case i >= limit && (st != http.StatusTooManyRequests || h.Get("Retry-After") == ""):
			t.Errorf("carol's request %d (on %s) = %d %v, Retry-After %q; want 429 past the shared limit of %d", i+1, p.base, st, out, h.Get("Retry-After"), limit)
		}
	}
	// Alice's own allowance is untouched by carol's.
	if st, _, _ := replicaCall(t, http.MethodGet, a.base+"/v1/sessions/"+sid, "alice", ""); st != http.StatusOK {
		t.Errorf("alice after carol hit the limit: %d", st)
	}

	// Each replica wrote its own chain; verify checks both and names them.
	var chains []string
	for _, p := range []*process{a, b} {
		if err := syscall.Kill(p.cmd.Process.Pid, syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := p.wait(t); err != nil {
			t.Fatalf("gatehouse after SIGTERM: %v\n%s", err, p.stderr.String())
		}
		m := chainLine.FindStringSubmatch(p.stderr.String())
		if m == nil {
			t.Fatalf("no audit_chain in the start log:\n%s", p.stderr.String())
		}
		chains = append(chains, m[1])
	}
	if chains[0] == chains[1] {
		t.Fatalf("both replicas write chain %s", chains[0])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	verify, err := exec.CommandContext(ctx, bin, "audit", "verify", "--dsn", dsn).CombinedOutput()
	if err != nil {
		t.Fatalf("audit verify: %v\n%s", err, verify)
	}
	if !regexp.MustCompile(`(?m)^ok: \d+ events in 2 chains$`).Match(verify) {
		t.Errorf("audit verify says:\n%s\nwant ok for 2 chains", verify)
	}
	for _, c := range chains {
		if !regexp.MustCompile(`(?m)^chain ` + c + `: \d+ events, head [0-9a-f]{64}$`).Match(verify) {
			t.Errorf("audit verify does not name chain %s:\n%s", c, verify)
		}
	}
	t.Logf("audit verify:\n%s", verify)
}

// /ready follows the database: when PostgreSQL becomes unreachable, a
// replica stops saying it is ready (a load balancer then sends it nothing).
func TestReplicas_ReadyFailsWhenPostgreSQLIsUnreachable(t *testing.T) {
	storetest.RequirePostgres(t)
	dsn := storetest.PostgresDSN(t)
	viaProxy, proxy := storetest.StartProxy(t, dsn)
	_, upURL := llmtest.Start(t, func(int, *llmtest.Request) llmtest.Reply { return llmtest.Reply{Content: "ok"} })
	cfgPath := writeReplicaConfig(t, t.TempDir(), upURL, viaProxy, 600)
	g := startGateway(t, gwOptions{config: func(*gateway) string {
		b, err := os.ReadFile(cfgPath)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}})
	if st, _, out := replicaCall(t, http.MethodGet, g.base+"/ready", "alice", ""); st != http.StatusOK {
		t.Fatalf("/ready with the database up = %d %v", st, out)
	}
	if err := proxy.Cut(); err != nil {
		t.Fatal(err)
	}
	if st, _, out := replicaCall(t, http.MethodGet, g.base+"/ready", "alice", ""); st != http.StatusServiceUnavailable {
		t.Errorf("/ready with PostgreSQL unreachable = %d %v, want 503", st, out)
	}
}
