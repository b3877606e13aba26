package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const minimal = `
auth:
  api_keys:
    - {subject: bot, sha256: "%s", roles: [agent]}
authz:
  roles: {agent: [respond]}
agents:
  a: {tools: []}
audit: {dsn: "sqlite:///tmp/a.db"}
sessions: {dsn: "sqlite:///tmp/s.db"}
`

var hash = strings.Repeat("ab", 32)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParse_FillsDefaults(t *testing.T) {
	c, err := Parse([]byte(strings.Replace(minimal, "%s", hash, 1)), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.Addr != DefaultAddr || c.Server.MaxBodyBytes != 1<<20 || c.Server.RequestTimeout != 120*time.Second ||
		c.Model.Provider != "openai" || *c.Model.MaxRetries != 2 || c.Auth.InvalidTokenStatus != 403 || c.Audit.Content != "hmac" {
		t.Errorf("defaults not filled: %+v", c)
	}
	if a := c.Agents["a"]; a.MaxToolRounds != DefaultMaxToolRounds || a.RunTimeout != 120*time.Second {
		t.Errorf("agent defaults: %+v", a)
	}
	if c.DefaultAgent() != "a" {
		t.Errorf("default agent %q", c.DefaultAgent())
	}
}

func TestParse_RefusesUnknownKeys(t *testing.T) {
	for _, extra := range []string{"unknown_top: 1", "server: {adress: x}", "authz: {rolez: {}}"} {
		_, err := Parse([]byte(strings.Replace(minimal, "%s", hash, 1)+extra+"\n"), env(nil))
		if err == nil {
			t.Errorf("%q was accepted", extra)
		}
	}
}

func TestParse_ExpandsEnvInValuesOnly(t *testing.T) {
	y := strings.Replace(minimal, "%s", "${KEY_HASH}", 1) + "model: {base_url: \"${BASE}\"}\n"
	c, err := Parse([]byte(y), env(map[string]string{"KEY_HASH": hash, "BASE": "http://127.0.0.1:9/v1"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Auth.APIKeys[0].SHA256 != hash || c.Model.BaseURL != "http://127.0.0.1:9/v1" {
		t.Errorf("not expanded: %+v", c.Auth.APIKeys[0])
	}
	// A value from the environment cannot add structure.
	y = strings.Replace(minimal, "%s", hash, 1) + "model: {model: \"${M}\"}\n"
	c, err = Parse([]byte(y), env(map[string]string{"M": "x\"\nauthz: {roles: {agent: [admin]}}"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Authz.Roles["agent"]) != 1 || c.Authz.Roles["agent"][0] != "respond" {
		t.Errorf("environment value changed the document: %v", c.Authz.Roles)
	}
	_, err = Parse([]byte(strings.Replace(minimal, "%s", "${MISSING}", 1)), env(nil))
	if err == nil || !strings.Contains(err.Error(), "auth.api_keys[0].sha256: environment variable MISSING is not set") {
		t.Errorf("missing variable: %v", err)
	}
}

// An unquoted value that is one ${VAR} takes the type its content spells,
// so numeric and boolean keys can come from the environment; anything else
// (and any quoted value) stays a string, never structure.
func TestParse_EnvValuesForNumbersAndBooleans(t *testing.T) {
	base := strings.Replace(minimal, "%s", hash, 1)
	y := strings.Replace(base, "agents:\n  a: {tools: []}", "agents:\n  a:\n    tools: []\n    default: ${DEF}", 1) + `server:
  max_concurrent_runs: ${RUNS}
  max_body_bytes: ${BODY}
model:
  max_retries: ${RETRIES}
  model: ${MODEL}
tools:
  t1:
    type: http
    url: "https://crm.internal/x"
    permission: respond
    max_response_bytes: ${BODY}
`
	c, err := Parse([]byte(y), env(map[string]string{"RUNS": "64", "BODY": "2048", "RETRIES": "0", "MODEL": "1234", "DEF": "true"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.MaxConcurrentRuns != 64 || c.Server.MaxBodyBytes != 2048 || *c.Model.MaxRetries != 0 || c.Model.Model != "1234" ||
		!c.Agents["a"].Default || c.Tools["t1"].MaxResponseBytes != 2048 {
		t.Errorf("typed values from the environment: server %+v, model %+v, agent %+v", c.Server, c.Model, c.Agents["a"])
	}
	// A string key keeps values that only look like numbers.
	for _, v := range []string{"0123456789", "6.5", "-0"} {
		c, err := Parse([]byte(base+"model:\n  model: ${V}\n"), env(map[string]string{"V": v}))
		if err != nil || c.Model.Model != v {
			t.Errorf("model: ${V} with V=%q: %v, %+v", v, err, c)
		}
	}
	for _, bad := range []struct{ value, v string }{
		{`"${V}"`, "64"},          // quoted: a string
		{`${V}`, "[1, 2]"},        // structure: a string
		{`${V}`, "64 # x"},        // not just a number
		{`x${V}`, "64"},           // not the whole value
		{`${V}`, "0x40"},          // only plain decimal
		{`${V}`, "64\nserver: 1"}, // a newline cannot escape
	} {
		y := base + "server:\n  max_concurrent_runs: " + bad.value + "\n"
		if _, err := Parse([]byte(y), env(map[string]string{"V": bad.v})); err == nil {
			t.Errorf("%s with V=%q was accepted", bad.value, bad.v)
		}
	}
}

func TestValidate_NamesTheKey(t *testing.T) {
	base := strings.Replace(minimal, "%s", hash, 1)
	cases := []struct{ edit, want string }{
		{strings.Replace(base, hash, "nothex", 1), "auth.api_keys[0].sha256: must be 64 hex characters"},
		{strings.Replace(base, "roles: [agent]", "roles: [ghost]", 1), `auth.api_keys[0].roles: role "ghost" is not defined in authz.roles`},
		{base + "tools: {t1: {type: builtin, permission: x}}\n", `tools.t1.type: no builtin tool is named "t1"`},
		{base + "tools: {claims_status: {type: builtin}}\n", "tools.claims_status.permission: is required"},
		{strings.Replace(base, "tools: []", "tools: [nope]", 1), `agents.a.tools[0]: unknown tool "nope"`},
		{base + "model: {provider: magic}\n", `model.provider: must be openai or offline`},
		{base + "auth: {invalid_token_status: 418}\n", ""}, // duplicate key: a YAML error
		{strings.Replace(base, "audit: {dsn: \"sqlite:///tmp/a.db\"}", "audit: {dsn: x, content: plain}", 1), "audit.content: must be full, hmac or none"},
		{base + "server: {tls: {client_ca_file: ca.pem}}\n", "server.tls.client_ca_file: mTLS needs cert_file and key_file"},
		{base + "tools: {claims_status: {type: builtin, permission: claims.read}}\n", "demo.dsn: is required with builtin tools (tools.claims_status)"},
		{base + "tools: {t2: {type: http, url: 'http://x', permission: x, approval: {ttl: 1m}}}\n", "tools.t2.approval.approvers: is required"},
		{base + "tools: {t2: {type: http, url: 'http://x', permission: x, approval: {approvers: [agent], ttl: 10ms}}}\n", "tools.t2.approval.ttl: must be at least 1s"},
		{base + "tools: {t2: {type: http, url: 'http://x', permission: x, approval: {approvers: [agent], tll: 1m}}}\n", "tll"},
		{base + "tools: {t2: {type: http, url: 'http://x', permission: x, approval: {approvers: [ghost]}}}\n", `tools.t2.approval.approvers: role "ghost" is not defined`},
		{base + "telemetry: {otlp_endpoint: \"collector:4318\"}\n", "telemetry.otlp_endpoint: must be an http:// or https:// URL"},
		{base + "telemetry: {otlp_endpoint: \"https://u:p@collector:4318\"}\n", "telemetry.otlp_endpoint: must not hold credentials"},
		{base + "server: {metrics_addr: \"9090\"}\n", "server.metrics_addr: must be host:port"},
		{base + "server: {addr: \"127.0.0.1:8080\", metrics_addr: \"127.0.0.1:8080\"}\n", "server.metrics_addr: must differ from server.addr"},
		{base + "passthrough: {models: {m: {permission: llm.use, hosted_tools: [function]}}}\n", "passthrough.models.m.hosted_tools[0]: function tools are always served"},
		{base + "passthrough: {models: {m: {permission: llm.use, hosted_tools: [web_search, Web Search]}}}\n", "passthrough.models.m.hosted_tools[1]: a tool type is lowercase"},
		{base + "mcp_servers: {docs: {url: 'http://127.0.0.1:9/mcp', start_timeout: -1s}}\n", "mcp_servers.docs: refresh_interval, call_timeout, stderr_bytes, restart_min and start_timeout must be positive"},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.edit), env(nil))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want %q, got %v", c.want, err)
		}
	}
	// auth.jwt.issuers are checked by package jwtauth, once: see
	// app.TestCheck_IssuersAreCheckedByTheVerifier.
}

func TestDevYAML_LoadsAsAConfig(t *testing.T) {
	dir := t.TempDir()
	users := DevUsers()
	for i := range users {
		users[i].Hash = strings.Repeat(string(rune('a'+i)), 64)
	}
	y, err := DevYAML(dir, users)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, DevConfigFile)
	os.WriteFile(p, y, 0o600)
	c, err := Load(p, env(map[string]string{"GATEHOUSE_SELF": "/usr/local/bin/gatehouse"}))
	if err != nil {
		t.Fatalf("the dev config does not load: %v\n%s", err, y)
	}
	if kb := c.MCPServers["demo_kb"]; len(kb.Command) != 3 || kb.Command[0] != "/usr/local/bin/gatehouse" || c.Tools["kb_read"].Server != "demo_kb" ||
		!strings.Contains(c.Tools["kb_read"].Condition, "path_within") {
		t.Errorf("dev config MCP example: %+v %+v", kb, c.Tools["kb_read"])
	}
	if c.Model.Provider != "offline" || len(c.Auth.APIKeys) != 5 || c.Auth.APIKeys[3].Claims["customer_id"] != "C-100" ||
		c.Tools["payments_lookup"].Condition == "" || c.DefaultAgent() != "support_agent" {
		t.Errorf("dev config: %+v", c)
	}
	if got := c.Authz.Roles["customer"]; strings.Join(got, ",") != "respond,claims.read,cards.read,payments.read,llm.use" {
		t.Errorf("customer role: %v", got)
	}
	if dp := c.DataProtection; dp.KeyFile == "" || dp.Actions["card"] != "tokenize" || strings.Join(dp.Reveal["card"], ",") != "admin" ||
		c.Tools["card_status"].Type != "builtin" {
		t.Errorf("dev data protection: %+v, card_status %+v", dp, c.Tools["card_status"])
	}
	if a := c.Tools["policy_update"].Approval; a == nil || strings.Join(a.Approvers, ",") != "supervisor" || a.TTL != 30*time.Minute ||
		c.Auth.APIKeys[4].Subject != "supervisor" || strings.Join(c.Authz.Roles["supervisor"], ",") != "read" {
		t.Errorf("dev approval: policy_update approval %+v, supervisor %v", a, c.Authz.Roles["supervisor"])
	}
	// The dev config names the files serve --dev writes and the audit
	// command finds by the Dev* names.
	abs, _ := filepath.Abs(dir)
	at := func(name string) string { return filepath.ToSlash(filepath.Join(abs, name)) }
	got := []string{c.Audit.DSN, c.Audit.HMACKeyFile, c.Audit.CheckpointKeyFile, c.Sessions.DSN, c.Demo.DSN, c.Auth.JWT.Issuers[0].JWKSFile}
	want := []string{"sqlite://" + at(DevAuditDB), at(DevAuditHMACKeyFile), at(DevCheckpointKeyFile), "sqlite://" + at(DevSessionsDB), "sqlite://" + at(DevDemoDB), at(DevJWKSFile)}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("dev config files:\n got %q\nwant %q", got, want)
	}
}

func TestParse_ErrorsNeverShowExpandedValues(t *testing.T) {
	const secret = "s3cr3t/t0ken+value"
	base := strings.Replace(minimal, "%s", hash, 1)
	for _, extra := range []string{
		"server: {max_body_bytes: \"${SECRET}\"}\n",                                   // a decode error quotes the value
		"tools: {t1: {type: http, url: \"https://x/\", permission: \"${SECRET}\"}}\n", // a validation error quotes it
	} {
		_, err := Parse([]byte(base+extra), env(map[string]string{"SECRET": secret}))
		if err == nil {
			t.Fatalf("%q was accepted", extra)
		}
		if strings.Contains(err.Error(), secret[:7]) || !strings.Contains(err.Error(), "${SECRET}") {
			t.Errorf("%q: %v", extra, err)
		}
	}
}

func TestRedact_HidesExpandedValuesInLaterErrors(t *testing.T) {
	y := strings.Replace(minimal, "%s", hash, 1) + "model: {base_url: \"http://127.0.0.1:9/${TOKEN}\"}\n"
	c, err := Parse([]byte(y), env(map[string]string{"TOKEN": "tok-123456"}))
	if err != nil {
		t.Fatal(err)
	}
	cause := errors.New("boom")
	err = c.Redact(fmt.Errorf("tools.x: parse \"http://127.0.0.1:9/tok-123456\": %w", cause))
	if strings.Contains(err.Error(), "tok-123456") || !errors.Is(err, cause) {
		t.Fatalf("%v", err)
	}
	if c.Redact(nil) != nil {
		t.Fatal("Redact(nil) is not nil")
	}
}

// LoadAudit reads the file as Load does, but needs only the audit
// section's variables.
func TestLoadAudit_OnlyTheAuditSection(t *testing.T) {
	write := func(yaml string) string {
		path := filepath.Join(t.TempDir(), "gatehouse.yaml")
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	base := strings.Replace(minimal, "%s", hash, 1)
	// An anchor in one section used by the audit section, as when both stores share one server.
	shared := strings.Replace(strings.Replace(base, `sessions: {dsn: "sqlite:///tmp/s.db"}`, "", 1),
		`audit: {dsn: "sqlite:///tmp/a.db"}`, "sessions: {dsn: &db \"postgres://${PGUSER}@db/gh\"}\naudit: {dsn: *db, content: full}", 1)
	secret := shared + "tools: {crm: {type: http, url: \"https://crm.test/x\", headers: {Authorization: \"Bearer ${CRM_TOKEN}\"}, permission: crm.read}}\n"
	envs := env(map[string]string{"PGUSER": "gatehouse"})
	a, err := LoadAudit(write(secret), envs)
	if err != nil || a.DSN != "postgres://gatehouse@db/gh" || a.Content != "full" || a.HMACKeyEnv != "GATEHOUSE_AUDIT_HMAC_KEY" {
		t.Fatalf("LoadAudit = %+v, %v", a, err)
	}
	full, err := Load(write(shared), envs)
	if err != nil || !reflect.DeepEqual(full.Audit, a) {
		t.Errorf("Load's audit section %+v, %v; LoadAudit's %+v", full.Audit, err, a)
	}
	for name, c := range map[string]struct{ yaml, want string }{
		"audit variable unset": {strings.Replace(base, `audit: {dsn: "sqlite:///tmp/a.db"}`, `audit: {dsn: "${AUDIT_DSN}"}`, 1), "audit.dsn: environment variable AUDIT_DSN is not set"},
		"audit twice":          {base + "audit: {dsn: \"sqlite:///tmp/b.db\"}\n", "already defined"},
		"unknown audit key":    {strings.Replace(base, `audit: {dsn: "sqlite:///tmp/a.db"}`, `audit: {dsn: "sqlite:///tmp/a.db", contents: full}`, 1), "contents"},
		"no dsn":               {strings.Replace(base, `audit: {dsn: "sqlite:///tmp/a.db"}`, `audit: {content: none}`, 1), "audit.dsn: is required"},
	} {
		if _, err := LoadAudit(write(c.yaml), envs); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}

// A Go tool the program registered with a condition keeps it: a config
// that redeclares the tool must restate a condition, not drop it silently.
func TestLoadWith_RedeclaredGoToolMustRestateItsCondition(t *testing.T) {
	base := strings.Replace(minimal, "%s", hash, 1)
	goTools := map[string]Tool{"greet": {Permission: "respond", Condition: `principal.subject == "agent"`}}
	write := func(yaml string) string {
		path := filepath.Join(t.TempDir(), "gatehouse.yaml")
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	if _, err := LoadWith(write(base+"tools: {greet: {type: go, permission: respond}}\n"), env(nil), goTools); err == nil ||
		!strings.Contains(err.Error(), "tools.greet.condition: the program registers this tool with a condition") {
		t.Errorf("redeclared without a condition: %v", err)
	}
	c, err := LoadWith(write(base+"tools: {greet: {type: go, permission: respond, condition: 'true'}}\n"), env(nil), goTools)
	if err != nil || c.Tools["greet"].Condition != "true" {
		t.Errorf("redeclared with a condition: %v", err)
	}
	c, err = LoadWith(write(base), env(nil), goTools)
	if err != nil || c.Tools["greet"].Condition != `principal.subject == "agent"` {
		t.Errorf("not redeclared: %+v, %v", c.Tools["greet"], err)
	}
}

func TestValidate_MetricsAddr(t *testing.T) {
	base := strings.Replace(minimal, "%s", hash, 1)
	for _, addr := range []string{"", "127.0.0.1:9090", "127.0.0.1:0", "[::1]:9090"} {
		c, err := Parse([]byte(base+fmt.Sprintf("server: {addr: \"127.0.0.1:0\", metrics_addr: %q}\n", addr)), env(nil))
		if err != nil {
			t.Errorf("metrics_addr %q: %v", addr, err)
			continue
		}
		if c.Server.MetricsAddr != addr {
			t.Errorf("metrics_addr %q read as %q", addr, c.Server.MetricsAddr)
		}
	}
}

func TestParse_MCPServerDefaults(t *testing.T) {
	y := strings.Replace(minimal, "%s", hash, 1) + "mcp_servers: {docs: {url: 'http://127.0.0.1:9/mcp'}, quick: {url: 'http://127.0.0.1:9/mcp', start_timeout: 2s}}\n"
	c, err := Parse([]byte(y), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.MCPServers["docs"].StartTimeout; got != DefaultMCPStartTimeout {
		t.Errorf("docs start_timeout = %v, want the default %v", got, DefaultMCPStartTimeout)
	}
	if got := c.MCPServers["quick"].StartTimeout; got != 2*time.Second {
		t.Errorf("quick start_timeout = %v, want 2s", got)
	}
}
