package config

import (
	"net"
	"net/url"
)

// Console configures the web console at /console/.
type Console struct {
	// OIDC, when its issuer is set, adds "sign in with <issuer>": OpenID
	// Connect authorization code with PKCE, as a public client (no secret:
	// the console runs in the browser). The access token it obtains is
	// verified on every API call like any other bearer token, so the issuer
	// must also be one of auth.jwt.issuers.
	OIDC ConsoleOIDC `yaml:"oidc"`
}

// ConsoleOIDC names the identity provider and the console's client there.
type ConsoleOIDC struct {
	Issuer   string `yaml:"issuer"`
	ClientID string `yaml:"client_id"`
	// Scopes are requested besides openid; empty: none.
	Scopes []string `yaml:"scopes"`
}

// Enabled reports whether OIDC sign-in is configured.
func (o ConsoleOIDC) Enabled() bool { return o.Issuer != "" }

func (c *Config) checkConsole(bad func(string, string, ...any)) {
	o := c.Console.OIDC
	if o.Issuer == "" && o.ClientID == "" && len(o.Scopes) == 0 {
		return
	}
	const key = "console.oidc"
	if o.Issuer == "" {
		bad(key+".issuer", "is required with client_id")
		return
	}
	if o.ClientID == "" {
		bad(key+".client_id", "is required with issuer")
	}
	u, err := url.Parse(o.Issuer)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		bad(key+".issuer", "must be an absolute https URL without query or fragment")
		return
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && isLoopbackHost(u.Hostname())) {
		bad(key+".issuer", "must be https (plain http only on a loopback address)")
	}
	for _, s := range o.Scopes {
		if s == "" || s == "openid" {
			bad(key+".scopes", "list scopes other than openid, which is always asked for")
		}
	}
	// The access token the console gets is a bearer token like any other:
	// without a matching JWT issuer every call would be refused.
	for _, is := range c.Auth.JWT.Issuers {
		if is.Issuer == o.Issuer {
			return
		}
	}
	bad(key+".issuer", "must also be one of auth.jwt.issuers, which verifies the tokens it issues")
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
