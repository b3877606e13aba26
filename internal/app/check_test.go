package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheck_IssuersAreCheckedByTheVerifier: issuer defaults and rules have
// one definition, package jwtauth's; config check applies it (settings the
// config once accepted and the verifier then refused at start, such as a
// 10-minute leeway, fail here too).
func TestCheck_IssuersAreCheckedByTheVerifier(t *testing.T) {
	const cfg = `
auth:
  api_keys: [{subject: bot, sha256: "%s", roles: [agent]}]
  jwt: {issuers: [%s]}
authz: {roles: {agent: [respond]}}
agents: {a: {tools: []}}
audit: {dsn: "sqlite:///tmp/a.db", content: none}
sessions: {dsn: "sqlite:///tmp/s.db"}
`
	tests := []struct {
		name, issuer, want string // want "": accepted
	}{
		{"defaults filled", `{issuer: "https://idp.example", audiences: [g]}`, ""},
		{"no issuer", `{audiences: [g]}`, "issuer is required"},
		{"no audience", `{issuer: "https://idp.example"}`, "at least one audience"},
		{"alg none", `{issuer: "https://idp.example", audiences: [g], algorithms: [none]}`, `algorithm "none" not allowed`},
		{"alg HS256", `{issuer: "https://idp.example", audiences: [g], algorithms: [HS256]}`, `algorithm "HS256" not allowed`},
		{"leeway too long", `{issuer: "https://idp.example", audiences: [g], leeway: 10m}`, "leeway must be"},
		{"plain http discovery", `{issuer: "http://idp.example", audiences: [g]}`, "http is allowed only on loopback"},
		{"jwks_url and jwks_file", `{issuer: "https://idp.example", audiences: [g], jwks_url: "https://idp.example/k", jwks_file: "KEYS"}`, "mutually exclusive"},
		{"twice", `{issuer: "https://idp.example", audiences: [g]}, {issuer: "https://idp.example", audiences: [h]}`, "configured twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			keys := filepath.Join(dir, "jwks.json")
			if err := os.WriteFile(keys, []byte(`{"keys":[]}`), 0o600); err != nil {
				t.Fatal(err)
			}
			issuer := strings.ReplaceAll(tc.issuer, "KEYS", keys)
			p := filepath.Join(dir, "gatehouse.yaml")
			y := strings.Replace(strings.Replace(cfg, "%s", strings.Repeat("ab", 32), 1), "%s", issuer, 1)
			if err := os.WriteFile(p, []byte(y), 0o600); err != nil {
				t.Fatal(err)
			}
			_, _, err := Check(context.Background(), p, func(string) string { return "" })
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Check: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "auth.jwt")):
				t.Fatalf("Check = %v; want an auth.jwt error with %q", err, tc.want)
			}
		})
	}
}
