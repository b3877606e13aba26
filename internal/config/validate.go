package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse/internal/tools"
)

var (
	namePattern = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_-]{0,63}$`)
	// modelPattern admits the model ids providers use (gpt-4o-mini,
	// meta-llama/Llama-3.1-8B, qwen2.5:7b).
	modelPattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._:/-]{0,127}$`)
	permPattern  = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_.:-]{0,127}$`)
)

// Validate checks the config and returns every problem found, each naming
// its key. Each section checks itself; checks that need another section
// (roles named by keys, tools named by agents) are on Config.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	c.Server.check(bad)
	c.Model.check(bad)
	c.checkAuth(bad)
	c.Authz.check(bad)
	c.checkTools(bad)
	c.checkCallCredentials(bad)
	c.checkAgents(bad)
	c.Audit.check(bad)
	c.checkDemo(bad)
	c.Sessions.check(bad)
	c.Passthrough.check(c, bad)
	c.checkConsole(bad)
	c.Telemetry.check(bad)
	c.checkMCP(bad)
	c.checkDataProtection(bad)
	return errors.Join(errs...)
}

func (s *Server) check(bad func(string, string, ...any)) {
	if s.MetricsAddr != "" {
		if _, port, err := net.SplitHostPort(s.MetricsAddr); err != nil {
			bad("server.metrics_addr", "must be host:port (e.g. 127.0.0.1:9090), or empty to serve /metrics on server.addr")
		} else if s.MetricsAddr == s.Addr && port != "0" {
			bad("server.metrics_addr", "must differ from server.addr; leave it empty to serve /metrics on server.addr")
		}
	}
	if s.MaxBodyBytes < 0 {
		bad("server.max_body_bytes", "must be positive")
	}
	if s.MaxConcurrentRuns < 0 {
		bad("server.max_concurrent_runs", "must be positive")
	}
	if s.RequestTimeout < 0 {
		bad("server.request_timeout", "must be positive")
	}
	if (s.TLS.CertFile == "") != (s.TLS.KeyFile == "") {
		bad("server.tls", "cert_file and key_file go together")
	}
	if s.TLS.ClientCAFile != "" && s.TLS.CertFile == "" {
		bad("server.tls.client_ca_file", "mTLS needs cert_file and key_file")
	}
}

func (m *Model) check(bad func(string, string, ...any)) {
	switch m.Provider {
	case "openai", "offline":
	default:
		bad("model.provider", "must be openai or offline, not %q", m.Provider)
	}
	if m.BaseURL != "" {
		if u, err := url.Parse(m.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("model.base_url", "must be an http(s) URL")
		}
	}
	if *m.MaxRetries < 0 || *m.MaxRetries > 10 {
		bad("model.max_retries", "must be 0..10")
	}
}

// checkAuth checks API keys and mTLS identities (and the roles they name).
// JWT issuers are checked by package jwtauth.
func (c *Config) checkAuth(bad func(string, string, ...any)) {
	if s := c.Auth.InvalidTokenStatus; s != 401 && s != 403 {
		bad("auth.invalid_token_status", "must be 401 or 403, not %d", s)
	}
	seenHash := map[string]bool{}
	for i, k := range c.Auth.APIKeys {
		key := fmt.Sprintf("auth.api_keys[%d]", i)
		if k.Subject == "" {
			bad(key+".subject", "is required")
		}
		if b, err := hex.DecodeString(k.SHA256); err != nil || len(b) != 32 {
			bad(key+".sha256", "must be 64 hex characters (gatehouse keys new prints it)")
		} else if seenHash[strings.ToLower(k.SHA256)] {
			bad(key+".sha256", "duplicates another key")
		}
		seenHash[strings.ToLower(k.SHA256)] = true
		c.checkRoles(key+".roles", k.Roles, bad)
	}
	for i, is := range c.Auth.JWT.Issuers {
		if is.Delegation == nil {
			continue
		}
		key := fmt.Sprintf("auth.jwt.issuers[%d].delegation", i)
		if len(is.Delegation.Actors) == 0 {
			bad(key+".actors", "is required: the actors that may act for this issuer's subjects")
		}
		for _, name := range sortedKeys(is.Delegation.Actors) {
			c.checkRoles(key+".actors."+name+".roles", is.Delegation.Actors[name].Roles, bad)
		}
		switch is.Delegation.Grants {
		case "", "intersection", "subject":
		default:
			bad(key+".grants", "must be intersection (the default) or subject, not %q", is.Delegation.Grants)
		}
	}
	for i, id := range c.Auth.MTLS.Identities {
		key := fmt.Sprintf("auth.mtls.identities[%d]", i)
		if id.Match == "" {
			bad(key+".match", "is required")
		}
		c.checkRoles(key+".roles", id.Roles, bad)
	}
}

func (a *Authz) check(bad func(string, string, ...any)) {
	for _, role := range sortedKeys(a.Roles) {
		for _, p := range a.Roles[role] {
			if !permPattern.MatchString(p) {
				bad("authz.roles."+role, "invalid permission %q", p)
			}
		}
	}
}

func (c *Config) checkTools(bad func(string, string, ...any)) {
	for _, name := range sortedKeys(c.Tools) {
		t := c.Tools[name]
		key := "tools." + name
		if !tools.ValidName(name) {
			bad(key, "tool names are %s", tools.NameRule)
		}
		switch t.Type {
		case "builtin":
			if !slices.Contains(BuiltinTools(), name) {
				bad(key+".type", "no builtin tool is named %q (builtin: %s)", name, strings.Join(BuiltinTools(), ", "))
			}
		case "http":
			if t.URL == "" {
				bad(key+".url", "is required for http tools")
			}
		case "go":
			if !c.goTools[name] {
				bad(key+".type", "no Go program registered a tool named %q", name)
			}
		case "client":
			if t.Parameters == nil {
				bad(key+".parameters", "is required for client tools: every call is checked against it")
			}
		case "mcp":
			// checkMCP checks the server, tool and pin.
		default:
			bad(key+".type", "must be builtin, http, go, client or mcp, not %q", t.Type)
		}
		if a := t.Approval; a != nil {
			if len(a.Approvers) == 0 {
				bad(key+".approval.approvers", "is required: the roles whose holders may approve a call")
			}
			for _, r := range a.Approvers {
				if _, ok := c.Authz.Roles[r]; !ok {
					bad(key+".approval.approvers", "role %q is not defined in authz.roles", r)
				}
			}
			if a.TTL < time.Second {
				bad(key+".approval.ttl", "must be at least 1s (a pending call expires after it)")
			}
		}
		if c.goTools[name] && t.Type != "go" {
			bad(key+".type", "%q is registered by the program; declare it with type: go (to set its policy) or not at all", name)
		}
		if t.Permission == "" {
			bad(key+".permission", "is required (everything is denied unless a rule allows it)")
		} else if !permPattern.MatchString(t.Permission) {
			bad(key+".permission", "invalid permission %q", t.Permission)
		}
	}
}

func (c *Config) checkAgents(bad func(string, string, ...any)) {
	if len(c.Agents) == 0 {
		bad("agents", "at least one agent is required")
	}
	defaults := 0
	for _, name := range sortedKeys(c.Agents) {
		a := c.Agents[name]
		key := "agents." + name
		if !namePattern.MatchString(name) {
			bad(key, "agent names are letters, digits, _ and -, starting with a letter")
		}
		if a.Default {
			defaults++
		}
		for i, tn := range a.Tools {
			if _, ok := c.Tools[tn]; !ok {
				bad(fmt.Sprintf("%s.tools[%d]", key, i), "unknown tool %q", tn)
			}
		}
		if a.MaxToolRounds < 0 || a.MaxToolRounds > 64 {
			bad(key+".max_tool_rounds", "must be 1..64")
		}
		if a.MaxParallelTools < 0 || a.MaxToolCalls < 0 {
			bad(key, "limits must be positive")
		}
	}
	if defaults > 1 {
		bad("agents", "only one agent may be the default")
	}
	if len(c.Agents) > 1 && defaults == 0 {
		bad("agents", "with several agents, one must have default: true")
	}
}

// checkDemo requires the demo database when a builtin tool uses it.
func (c *Config) checkDemo(bad func(string, string, ...any)) {
	for _, name := range sortedKeys(c.Tools) {
		if c.Tools[name].Type == "builtin" && c.Demo.DSN == "" {
			bad("demo.dsn", "is required with builtin tools (tools.%s): sqlite://path, made when missing", name)
			return
		}
	}
}

func (s *Sessions) check(bad func(string, string, ...any)) {
	if s.MaxMessages < 0 {
		bad("sessions.max_messages", "must be positive")
	}
	if s.MaxBytes < 0 {
		bad("sessions.max_bytes", "must be positive")
	}
	if s.DSN == "" {
		bad("sessions.dsn", "is required (sqlite://path or postgres://...)")
	}
}

func (a *Audit) check(bad func(string, string, ...any)) {
	switch a.Content {
	case "full", "hmac", "none":
	default:
		bad("audit.content", "must be full, hmac or none, not %q", a.Content)
	}
	if a.DSN == "" {
		bad("audit.dsn", "is required (sqlite://path or postgres://...)")
	}
	a.checkWitnesses(bad)
}

func (c *Config) checkRoles(key string, roles []string, bad func(string, string, ...any)) {
	if len(roles) == 0 {
		bad(key, "at least one role is required")
	}
	for _, r := range roles {
		if _, ok := c.Authz.Roles[r]; !ok {
			bad(key, "role %q is not defined in authz.roles", r)
		}
	}
}

// The names of the builtin demo tools (package builtin implements them
// under these names).
const (
	BuiltinClaimsStatus   = "claims_status"
	BuiltinPaymentsLookup = "payments_lookup"
	BuiltinPolicyUpdate   = "policy_update"
	BuiltinCardStatus     = "card_status"
)

// BuiltinTools returns the tool names that exist with type: builtin.
func BuiltinTools() []string {
	return []string{BuiltinClaimsStatus, BuiltinPaymentsLookup, BuiltinPolicyUpdate, BuiltinCardStatus}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
