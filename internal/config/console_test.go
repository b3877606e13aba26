package config

import (
	"strings"
	"testing"
)

func TestConsoleOIDC_IsValidatedWithTheIssuersThatVerifyItsTokens(t *testing.T) {
	base := strings.Replace(minimal, "%s", hash, 1)
	const jwt = "auth:\n  api_keys:\n    - {subject: bot, sha256: \"" + "%s" + "\", roles: [agent]}\n  jwt:\n    issuers:\n      - {issuer: \"https://idp.example.test\", audiences: [gatehouse]}\n"
	withIssuer := strings.Replace(base, "auth:\n  api_keys:\n    - {subject: bot, sha256: \""+hash+"\", roles: [agent]}\n", strings.Replace(jwt, "%s", hash, 1), 1)
	if withIssuer == base {
		t.Fatal("the minimal config changed shape")
	}
	for _, c := range []struct{ name, yaml, want string }{
		{"none", base, ""},
		{"empty", base + "console: {oidc: {issuer: \"\", client_id: \"\"}}\n", ""},
		{"ok", withIssuer + "console: {oidc: {issuer: \"https://idp.example.test\", client_id: console}}\n", ""},
		{"loopback http", strings.ReplaceAll(withIssuer, "https://idp.example.test", "http://127.0.0.1:9000") +
			"console: {oidc: {issuer: \"http://127.0.0.1:9000\", client_id: console}}\n", ""},
		{"no client", withIssuer + "console: {oidc: {issuer: \"https://idp.example.test\"}}\n", "console.oidc.client_id: is required with issuer"},
		{"no issuer", base + "console: {oidc: {client_id: console}}\n", "console.oidc.issuer: is required with client_id"},
		{"plain http", base + "console: {oidc: {issuer: \"http://idp.example.test\", client_id: c}}\n", "console.oidc.issuer: must be https"},
		{"not verified", base + "console: {oidc: {issuer: \"https://other.example.test\", client_id: c}}\n", "console.oidc.issuer: must also be one of auth.jwt.issuers"},
		{"openid scope", withIssuer + "console: {oidc: {issuer: \"https://idp.example.test\", client_id: c, scopes: [openid]}}\n", "console.oidc.scopes"},
		{"typo", base + "console: {odic: {}}\n", "odic"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.yaml), env(nil))
			if c.want == "" && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Fatalf("want %q, got %v", c.want, err)
			}
		})
	}
}
