package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/authn"
	"github.com/gatehousehq/gatehouse/internal/llm/llmtest"
	"github.com/gatehousehq/gatehouse/internal/openapitest"
	"github.com/gatehousehq/gatehouse/internal/store/storetest"
)

// syncBuffer is a goroutine-safe buffer for the server's output.
type syncBuffer = storetest.SyncBuffer

// gateway is a running gatehouse (the real run()) for one test.
type gateway struct {
	t           *testing.T
	base        string
	dir         string
	cfgPath     string
	keys        map[string]string // user -> raw API key
	hashes      map[string]string
	upstream    *llmtest.Server
	upstreamURL string
	stdout      *syncBuffer
	stderr      *syncBuffer
	env         map[string]string
	stop        func() error

	// api validates every response the tests receive against the OpenAPI
	// document (made on first use).
	apiOnce sync.Once
	api     *openapitest.Validator
}

// checkAPI fails the test when a response to req is not as openapi.json
// describes it.
func (g *gateway) checkAPI(req *http.Request, status int, header http.Header, body []byte) {
	g.t.Helper()
	g.apiOnce.Do(func() { g.api = openapitest.New(g.t) })
	g.api.Check(g.t, req, status, header, body)
}

type gwOptions struct {
	script         llmtest.Script
	requestTimeout string
	extraYAML      string // appended under tools: (indented by caller)
	auditDSN       string
	env            map[string]string
	// config, when set, renders the whole config instead of testConfig.
	config func(g *gateway) string
}

const testConfig = `server:
  addr: "127.0.0.1:0"
  max_body_bytes: 1048576
  request_timeout: {{TIMEOUT}}
  rate_limit: {requests_per_minute: 6000, burst: 600}
model:
  provider: openai
  base_url: "{{UPSTREAM}}"
  model: test-model
  api_key_env: TEST_OPENAI_KEY
  timeout: 30s
  max_retries: 2
auth:
  api_keys:
{{KEYS}}
authz:
  roles:
    viewer: [read]
    agent: [read, respond, claims.read]
    admin: [read, respond, admin, audit.read, metrics, claims.read, payments.read, policy.write]
    customer: [respond, claims.read, payments.read]
tools:
  claims_status:   {type: builtin, permission: claims.read}
  payments_lookup: {type: builtin, permission: payments.read,
                    condition: 'args.customer_id == principal.claims.customer_id || "admin" in principal.roles'}
  policy_update:   {type: builtin, permission: policy.write}
{{EXTRA}}
agents:
  support_agent:
    default: true
    system_message: "You are a concise support assistant for authenticated users."
    tools: [claims_status, payments_lookup, policy_update]
    max_tool_rounds: 4
audit:
  dsn: "{{AUDIT}}"
  content: hmac
  hmac_key_env: TEST_AUDIT_KEY
  checkpoint_key_file: "{{DIR}}/checkpoint.key"
sessions:
  dsn: "sqlite://{{DIR}}/sessions.db"
demo:
  dsn: "sqlite://{{DIR}}/demo.db"
`

// renderConfig writes the test config with the given users' keys.
func (g *gateway) renderConfig(users []string, opts gwOptions) string {
	var keys strings.Builder
	for _, u := range users {
		fmt.Fprintf(&keys, "    - {subject: %s, sha256: %q, roles: [%s]", u, g.hashes[u], u)
		if u == "customer" {
			keys.WriteString(", claims: {customer_id: C-100}")
		}
		keys.WriteString("}\n")
	}
	timeout := opts.requestTimeout
	if timeout == "" {
		timeout = "20s"
	}
	auditDSN := opts.auditDSN
	if auditDSN == "" {
		auditDSN = "sqlite://" + g.dir + "/audit.db"
	}
	r := strings.NewReplacer("{{TIMEOUT}}", timeout, "{{UPSTREAM}}", g.upstreamURL, "{{KEYS}}", strings.TrimRight(keys.String(), "\n"),
		"{{EXTRA}}", opts.extraYAML, "{{AUDIT}}", auditDSN, "{{DIR}}", g.dir)
	return r.Replace(testConfig)
}

var allUsers = []string{"viewer", "agent", "admin", "customer"}

func startGateway(t *testing.T, opts gwOptions) *gateway {
	t.Helper()
	g := &gateway{t: t, dir: t.TempDir(), keys: map[string]string{}, hashes: map[string]string{}, stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	for _, u := range allUsers {
		k, h, err := authn.NewKey()
		if err != nil {
			t.Fatal(err)
		}
		g.keys[u], g.hashes[u] = k, h
	}
	script := opts.script
	if script == nil {
		script = func(int, *llmtest.Request) llmtest.Reply {
			return llmtest.Reply{Content: "Hello from the scripted model."}
		}
	}
	g.upstream, g.upstreamURL = llmtest.Start(t, script)
	g.cfgPath = filepath.Join(g.dir, "gatehouse.yaml")
	if opts.config != nil {
		g.writeConfig(opts.config(g))
	} else {
		g.writeConfig(g.renderConfig(allUsers, opts))
	}
	g.env = map[string]string{"TEST_OPENAI_KEY": "sk-test", "TEST_AUDIT_KEY": "0123456789abcdef0123456789abcdef"}
	for k, v := range opts.env {
		g.env[k] = v
	}
	// An ephemeral port whatever the config says (the dev config says
	// 127.0.0.1:8080), so the suite runs beside `make run`.
	g.serve([]string{"serve", "--config", g.cfgPath, "--addr", "127.0.0.1:0"}, func(k string) string { return g.env[k] })
	return g
}

// serve runs gatehouse (the real run()) with args until the test ends, and
// waits until it listens: g.base is then its URL and g.stop stops it.
func (g *gateway) serve(args []string, getenv func(string) string) {
	t := g.t
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, getenv, nil, g.stdout, g.stderr) }()
	var once sync.Once
	var stopErr error
	g.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(30 * time.Second):
				stopErr = fmt.Errorf("gatehouse did not stop")
			}
		})
		return stopErr
	}
	t.Cleanup(func() {
		if err := g.stop(); err != nil {
			t.Errorf("serve: %v\nstderr:\n%s", err, g.stderr.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if _, after, ok := strings.Cut(g.stdout.String(), "gatehouse listening on "); ok {
			g.base = strings.TrimSpace(strings.SplitN(after, "\n", 2)[0])
			return
		}
		select {
		case err := <-done:
			g.stop = func() error { return nil }
			t.Fatalf("serve exited early: %v\nstderr:\n%s", err, g.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("gatehouse did not start; stderr:\n%s", g.stderr.String())
}

func (g *gateway) writeConfig(yaml string) {
	g.t.Helper()
	if err := os.WriteFile(g.cfgPath, []byte(yaml), 0o600); err != nil {
		g.t.Fatal(err)
	}
}

// response is a decoded HTTP answer.
type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

var testClient = &http.Client{Timeout: 60 * time.Second}

// do sends a request as user ("" = no Authorization header).
func (g *gateway) do(method, path, user string, body any) response {
	g.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, g.base+path, rd)
	if err != nil {
		g.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+g.keys[user])
	}
	return g.send(req)
}

func (g *gateway) send(req *http.Request) response {
	g.t.Helper()
	resp, err := testClient.Do(req)
	if err != nil {
		g.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	if resp.Header.Get("X-Request-Id") == "" {
		g.t.Errorf("%s %s: no X-Request-Id", req.Method, req.URL.Path)
	}
	g.checkAPI(req, resp.StatusCode, resp.Header, raw)
	return r
}

func (r response) str(key string) string {
	s, _ := r.body[key].(string)
	return s
}
