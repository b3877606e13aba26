package config

import "time"

// Defaults used when a key is absent.
const (
	DefaultAddr           = "127.0.0.1:8080"
	DefaultMaxBodyBytes   = 1 << 20
	DefaultRequestTimeout = 120 * time.Second
	// DefaultSessionMaxMessages and DefaultSessionMaxBytes bound a session's history.
	DefaultSessionMaxMessages = 500
	DefaultSessionMaxBytes    = 8 << 20
	DefaultShutdownTimeout    = 30 * time.Second
	DefaultMaxConcurrentRuns  = 256
	DefaultModelTimeout       = 60 * time.Second
	DefaultMaxRetries         = 2
	DefaultMaxToolRounds      = 8
	DefaultMaxToolCalls       = 32
	DefaultMaxParallel        = 4
	DefaultToolTimeout        = 30 * time.Second
	DefaultApprovalTTL        = 30 * time.Minute
)

// SetDefaults fills absent keys.
func (c *Config) SetDefaults() {
	s := &c.Server
	if s.Addr == "" {
		s.Addr = DefaultAddr
	}
	if s.MaxBodyBytes == 0 {
		s.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if s.RequestTimeout == 0 {
		s.RequestTimeout = DefaultRequestTimeout
	}
	if s.MaxConcurrentRuns == 0 {
		s.MaxConcurrentRuns = DefaultMaxConcurrentRuns
	}
	if s.ShutdownTimeout == 0 {
		s.ShutdownTimeout = DefaultShutdownTimeout
	}
	if s.RateLimit.RequestsPerMinute > 0 && s.RateLimit.Burst == 0 {
		s.RateLimit.Burst = max(1, s.RateLimit.RequestsPerMinute/10)
	}
	m := &c.Model
	if m.Provider == "" {
		m.Provider = "openai"
	}
	if m.Model == "" {
		m.Model = "gpt-4o-mini"
	}
	if m.APIKeyEnv == "" {
		m.APIKeyEnv = "OPENAI_API_KEY"
	}
	if m.Timeout == 0 {
		m.Timeout = DefaultModelTimeout
	}
	if m.MaxRetries == nil {
		n := DefaultMaxRetries
		m.MaxRetries = &n
	}
	if c.Auth.InvalidTokenStatus == 0 {
		c.Auth.InvalidTokenStatus = 403
	}
	for _, t := range c.Tools {
		if t.Approval != nil && t.Approval.TTL == 0 {
			t.Approval.TTL = DefaultApprovalTTL // a pointer: the map's value shares it
		}
	}
	// auth.jwt.issuers: package jwtauth fills their defaults and checks
	// them (buildRuntime, config check), the one definition of both.
	for name, a := range c.Agents {
		if a.MaxToolRounds == 0 {
			a.MaxToolRounds = DefaultMaxToolRounds
		}
		if a.MaxToolCalls == 0 {
			a.MaxToolCalls = DefaultMaxToolCalls
		}
		if a.MaxParallelTools == 0 {
			a.MaxParallelTools = DefaultMaxParallel
		}
		if a.ToolTimeout == 0 {
			a.ToolTimeout = DefaultToolTimeout
		}
		if a.RunTimeout == 0 {
			a.RunTimeout = c.Server.RequestTimeout
		}
		c.Agents[name] = a
	}
	if c.Sessions.MaxMessages == 0 {
		c.Sessions.MaxMessages = DefaultSessionMaxMessages
	}
	if c.Sessions.MaxBytes == 0 {
		c.Sessions.MaxBytes = DefaultSessionMaxBytes
	}
	if c.Audit.Content == "" {
		c.Audit.Content = "hmac"
	}
	if c.Audit.HMACKeyEnv == "" {
		c.Audit.HMACKeyEnv = "GATEHOUSE_AUDIT_HMAC_KEY"
	}
	if c.Audit.WitnessQuorum == 0 && len(c.Audit.Witnesses) > 0 {
		c.Audit.WitnessQuorum = 1
	}
	if c.Audit.CommitTimeout == 0 {
		c.Audit.CommitTimeout = 2 * time.Second
	}
	c.Passthrough.defaults()
	c.DataProtection.defaults()
	for name, m := range c.MCPServers {
		m.defaults()
		c.MCPServers[name] = m
	}
}
