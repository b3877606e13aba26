package config

import (
	"net/url"
	"regexp"
	"time"
)

// MCPServer is one MCP server whose tools type: mcp tools declare: either
// URL (streamable HTTP, with Headers as its own credentials — never the
// caller's) or Command (stdio: gatehouse starts it, restarts it with backoff
// when it exits, and stops it with itself).
type MCPServer struct {
	URL     string            `yaml:"url"`
	Headers map[string]string `yaml:"headers"`
	Command []string          `yaml:"command"`
	Env     map[string]string `yaml:"env"`
	// RefreshInterval is how often the server's tool list is read again to
	// notice a changed tool (a rug pull) between calls.
	RefreshInterval time.Duration `yaml:"refresh_interval"`
	// CallTimeout bounds one tools/call (and the tool list), whatever the
	// agent's tool_timeout.
	CallTimeout time.Duration `yaml:"call_timeout"`
	// StderrBytes is how much of a stdio server's stderr is kept (the
	// latest bytes), for /ready and the server log.
	StderrBytes int `yaml:"stderr_bytes"`
	// RestartMin and RestartMax bound the backoff between restarts or
	// reconnects; it doubles after each failure.
	RestartMin time.Duration `yaml:"restart_min"`
	RestartMax time.Duration `yaml:"restart_max"`
	// StartTimeout bounds how long /ready waits, after gatehouse starts,
	// for the server's first connection attempt to end.
	StartTimeout time.Duration `yaml:"start_timeout"`
	// CallToken or TokenExchange give each tools/call of a streamable-HTTP
	// server its own bearer, as for an http tool; the connection's other
	// requests carry Headers only.
	CallToken     *CallToken     `yaml:"call_token"`
	TokenExchange *TokenExchange `yaml:"token_exchange"`
}

// MCP defaults.
const (
	DefaultMCPRefresh      = time.Minute
	DefaultMCPCallTimeout  = 60 * time.Second
	DefaultMCPStderrBytes  = 16 << 10
	DefaultMCPRestartMin   = 500 * time.Millisecond
	DefaultMCPRestartMax   = 30 * time.Second
	DefaultMCPStartTimeout = 30 * time.Second
)

func (m *MCPServer) defaults() {
	if m.RefreshInterval == 0 {
		m.RefreshInterval = DefaultMCPRefresh
	}
	if m.CallTimeout == 0 {
		m.CallTimeout = DefaultMCPCallTimeout
	}
	if m.StderrBytes == 0 {
		m.StderrBytes = DefaultMCPStderrBytes
	}
	if m.RestartMin == 0 {
		m.RestartMin = DefaultMCPRestartMin
	}
	if m.RestartMax == 0 {
		m.RestartMax = DefaultMCPRestartMax
	}
	if m.StartTimeout == 0 {
		m.StartTimeout = DefaultMCPStartTimeout
	}
}

var (
	mcpServerName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}$`)
	// PinPattern is the form of a tool's pin (see mcp/client.Pin).
	PinPattern = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)

// checkMCP checks mcp_servers and the type: mcp tools that use them.
func (c *Config) checkMCP(bad func(string, string, ...any)) {
	for _, name := range sortedKeys(c.MCPServers) {
		m := c.MCPServers[name]
		key := "mcp_servers." + name
		if !mcpServerName.MatchString(name) {
			bad(key, "server names are letters, digits, _ and -, at most 64")
		}
		switch {
		case m.URL != "" && len(m.Command) > 0:
			bad(key, "has both url and command; a server is one or the other")
		case m.URL != "":
			u, err := url.Parse(m.URL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				bad(key+".url", "must be an absolute http(s) URL")
			}
			if len(m.Env) > 0 {
				bad(key+".env", "is for stdio servers (command)")
			}
		case len(m.Command) > 0:
			if m.Command[0] == "" {
				bad(key+".command", "the first element names the program")
			}
			if len(m.Headers) > 0 {
				bad(key+".headers", "are for HTTP servers (url)")
			}
		default:
			bad(key, "needs url (streamable HTTP) or command (stdio)")
		}
		if m.RefreshInterval < 0 || m.CallTimeout < 0 || m.StderrBytes < 0 || m.RestartMin < 0 || m.RestartMax < m.RestartMin || m.StartTimeout < 0 {
			bad(key, "refresh_interval, call_timeout, stderr_bytes, restart_min and start_timeout must be positive, restart_max at least restart_min")
		}
	}
	for _, name := range sortedKeys(c.Tools) {
		t := c.Tools[name]
		key := "tools." + name
		if t.Type != "mcp" {
			if t.Server != "" || t.MCPTool != "" || t.Pin != "" {
				bad(key, "server, tool and pin are for type: mcp")
			}
			continue
		}
		if _, ok := c.MCPServers[t.Server]; !ok {
			bad(key+".server", "no mcp_servers entry is named %q", t.Server)
		}
		if t.MCPTool == "" {
			bad(key+".tool", "is required: the tool's name on the MCP server")
		}
		if t.Pin != "" && !PinPattern.MatchString(t.Pin) {
			bad(key+".pin", "must be sha256:<64 lower-case hex> (gatehouse mcp list prints it)")
		}
		if t.URL != "" || t.Method != "" || t.Parameters != nil || t.Description != "" {
			bad(key, "an MCP tool's description and parameters come from its server; url, method, description and parameters are not used")
		}
	}
}
