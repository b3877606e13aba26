package config

import (
	"net/url"
	"time"
)

// CallTokens configures the JWTs Gatehouse signs for tools with call_token.
type CallTokens struct {
	// KeyFile holds PKCS #8 PEM private keys (P-256 or Ed25519): the first
	// signs, the others are published until tokens they signed expire.
	KeyFile string `yaml:"key_file"`
	// Algorithm, when set (ES256 or EdDSA), must be the key's.
	Algorithm string        `yaml:"algorithm"`
	TTL       time.Duration `yaml:"ttl"`
}

// CallToken makes a tool's calls carry a call token for Audience (default:
// the tool URL's origin).
type CallToken struct {
	Audience string `yaml:"audience"`
}

// TokenExchange makes a tool's calls carry a token exchanged for the
// caller's at the identity provider (RFC 8693).
type TokenExchange struct {
	TokenURL        string `yaml:"token_url"`
	ClientID        string `yaml:"client_id"`
	ClientSecretEnv string `yaml:"client_secret_env"`
	Audience        string `yaml:"audience"`
	Scope           string `yaml:"scope"`
}

// CallTokenAudience is the audience of tool t's call tokens.
func (t *Tool) CallTokenAudience() string { return t.CallToken.audience(t.URL) }

// CallTokenAudience is the audience of the call tokens of server m's
// tools/call requests.
func (m *MCPServer) CallTokenAudience() string { return m.CallToken.audience(m.URL) }

// audience is the configured one, else the origin of rawURL.
func (ct *CallToken) audience(rawURL string) string {
	if ct == nil {
		return ""
	}
	if ct.Audience != "" {
		return ct.Audience
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

func (c *Config) checkCallCredentials(bad func(string, string, ...any)) {
	ct := c.Auth.CallTokens
	switch ct.Algorithm {
	case "", "ES256", "EdDSA":
	default:
		bad("auth.call_tokens.algorithm", "must be ES256 or EdDSA, not %q", ct.Algorithm)
	}
	if ct.TTL != 0 && (ct.TTL < time.Second || ct.TTL > 5*time.Minute) {
		bad("auth.call_tokens.ttl", "must be between 1s and 5m")
	}
	for _, name := range sortedKeys(c.Tools) {
		t := c.Tools[name]
		key := "tools." + name
		if t.CallToken == nil && t.TokenExchange == nil {
			continue
		}
		if t.Type != "http" {
			bad(key, "call_token and token_exchange are for http tools (and streamable-HTTP MCP servers, under mcp_servers)")
			continue
		}
		checkCallCredential(bad, key, ct, t.CallToken, t.TokenExchange, t.CallTokenAudience())
	}
	for _, name := range sortedKeys(c.MCPServers) {
		m := c.MCPServers[name]
		key := "mcp_servers." + name
		if m.CallToken == nil && m.TokenExchange == nil {
			continue
		}
		if m.URL == "" {
			bad(key, "call_token and token_exchange are for streamable-HTTP servers (url), not stdio ones")
			continue
		}
		checkCallCredential(bad, key, ct, m.CallToken, m.TokenExchange, m.CallTokenAudience())
	}
}

// checkCallCredential checks one tool's or server's call credential.
func checkCallCredential(bad func(string, string, ...any), key string, ct CallTokens, tok *CallToken, x *TokenExchange, aud string) {
	if tok != nil && x != nil {
		bad(key, "call_token and token_exchange exclude each other: a call has one bearer")
	}
	if tok != nil {
		if ct.KeyFile == "" {
			bad(key+".call_token", "needs auth.call_tokens.key_file (the key call tokens are signed with)")
		}
		if aud == "" {
			bad(key+".call_token.audience", "is required when the url has no origin")
		}
	}
	if x != nil {
		if u, err := url.Parse(x.TokenURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad(key+".token_exchange.token_url", "must be an http(s) URL")
		}
		if x.ClientID == "" || x.ClientSecretEnv == "" {
			bad(key+".token_exchange", "client_id and client_secret_env are required")
		}
		if x.Audience == "" {
			bad(key+".token_exchange.audience", "is required: the exchanged token is for that audience only")
		}
	}
}
