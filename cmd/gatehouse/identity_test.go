package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/devkey"
	"github.com/gatehousehq/gatehouse/internal/oidctest"
)

// End-to-end identity tests: JWTs from a real OpenID provider, the dev
// issuer of `serve --dev` and `gatehouse token`, RFC 9728 metadata, and mTLS,
// all through the real run().

func TestJWT_RealOpenIDProviderThroughTheGateway(t *testing.T) {
	p := oidctest.Start(t)
	issuer := func(audience, extra string) string {
		return fmt.Sprintf("  jwt:\n    issuers:\n      - {issuer: %q, audiences: [%s], algorithms: [RS256], required_typ: at+jwt%s}\n", p.Issuer, audience, extra)
	}
	// The provider's tokens carry roles ["agent"], scope "read write",
	// sub "gatehouse-test" (the client id) and aud "gatehouse".
	g := startGateway(t, gwOptions{config: func(g *gateway) string {
		return g.withIdentity(identityYAML{auth: issuer("gatehouse", ", min_refresh_interval: 200ms, max_key_age: 3s")})
	}})
	// RFC 9728: the challenge names the metadata, which names the provider.
	r := g.call(testClient, "POST", "/v1/chat", "", map[string]string{"message": "hello"})
	if got, want := r.header.Get("WWW-Authenticate"), `resource_metadata="`+g.base+`/.well-known/oauth-protected-resource"`; r.status != 401 || !strings.Contains(got, want) {
		t.Errorf("no token: %d, WWW-Authenticate %q, want it to hold %s", r.status, got, want)
	}
	md := g.call(testClient, "GET", "/.well-known/oauth-protected-resource", "", nil)
	if md.str("resource") != g.base || fmt.Sprint(md.body["authorization_servers"]) != "["+p.Issuer+"]" {
		t.Errorf("metadata: %d %s", md.status, md.raw)
	}

	tok := p.Token(t)
	r = g.call(testClient, "POST", "/v1/chat", tok, map[string]string{"message": "hello"})
	if r.status != 200 || r.str("session_id") == "" {
		t.Fatalf("provider token: %d %s", r.status, r.raw)
	}
	ev := g.lastDecision(testClient, "gatehouse-test")
	if ev.AuthMethod != "jwt" || ev.Issuer != p.Issuer || !slices.Equal(ev.Roles, []string{"agent"}) || ev.Decision != audit.Allow {
		t.Errorf("authz.decided = %+v", ev)
	}
	if s := g.call(testClient, "GET", "/v1/sessions/"+r.str("session_id"), tok, nil); s.status != 200 {
		t.Errorf("the token's subject does not own its session: %d %s", s.status, s.raw)
	}

	t.Run("rotation", func(t *testing.T) {
		p.Rotate(t)
		newTok := p.Token(t)
		time.Sleep(250 * time.Millisecond) // past min_refresh_interval
		before := p.Stats(t).JWKSFetches
		if r := g.call(testClient, "GET", missingSession, newTok, nil); r.status != 404 {
			t.Fatalf("token of the new key: %d %s", r.status, r.raw)
		}
		if n := p.Stats(t).JWKSFetches - before; n > 1 {
			t.Errorf("JWKS fetches to accept the new key = %d, want at most 1", n)
		}
		// The old key leaves the JWKS: after the next background refresh
		// (max_key_age 3s) its token is refused, cached or not.
		p.DropOld(t)
		deadline := time.Now().Add(10 * time.Second)
		for {
			r := g.call(testClient, "GET", missingSession, tok, nil)
			if r.status == 403 && r.str("detail") == "Invalid token" {
				break
			}
			if r.status != 404 || time.Now().After(deadline) {
				t.Fatalf("token of a dropped key: %d %s", r.status, r.raw)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if r := g.call(testClient, "GET", missingSession, newTok, nil); r.status != 404 {
			t.Errorf("token of the current key after the drop: %d %s", r.status, r.raw)
		}
	})

	t.Run("wrong audience", func(t *testing.T) {
		other := startGateway(t, gwOptions{config: func(g *gateway) string {
			return g.withIdentity(identityYAML{auth: issuer("billing-api", "")})
		}})
		r := other.call(testClient, "POST", "/v1/chat", p.Token(t), map[string]string{"message": "hello"})
		if r.status != 403 || r.str("detail") != "Invalid token" || r.str("error") != "invalid_token" {
			t.Errorf("token for audience gatehouse at a billing-api gateway: %d %s", r.status, r.raw)
		}
		if other.upstream.Count() != 0 {
			t.Errorf("model called %d times for a refused token", other.upstream.Count())
		}
	})

	t.Run("scopes map to permissions", func(t *testing.T) {
		// roles_claim names a claim the provider does not send: only the
		// token's scopes can grant respond.
		sg := startGateway(t, gwOptions{config: func(g *gateway) string {
			return g.withIdentity(identityYAML{auth: issuer("gatehouse", ", roles_claim: groups"), scopes: "{write: [respond]}"})
		}})
		if r := sg.call(testClient, "POST", "/v1/chat", p.Token(t), map[string]string{"message": "hello"}); r.status != 200 {
			t.Fatalf("scope write → respond: %d %s", r.status, r.raw)
		}
		if ev := sg.lastDecision(testClient, "gatehouse-test"); len(ev.Roles) != 0 || ev.Decision != audit.Allow {
			t.Errorf("authz.decided = %+v, want no roles and allow", ev)
		}
		if r := sg.call(testClient, "GET", "/v1/sessions/none", p.Token(t), nil); r.status != 403 || r.str("detail") != "Not authorized for this action" {
			t.Errorf("read is granted by no scope: %d %s", r.status, r.raw)
		}
	})
}

func TestDevMode_TokenCommandAndJWKS(t *testing.T) {
	g := startDev(t)
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"token", "--data-dir", g.dir, "--subject", "alice", "--roles", "agent"}, func(string) string { return "" }, nil, &out, &errOut)
	if err != nil {
		t.Fatalf("token: %v\n%s", err, errOut.String())
	}
	tok := strings.TrimSpace(out.String())
	r := g.call(testClient, "POST", "/chat", tok, map[string]string{"message": "What is the status of claim CLM-1001?"})
	if r.status != 200 || r.body["authenticated"] != true || !strings.Contains(r.str("response"), "offline demo model") {
		t.Fatalf("minted token on /chat: %d %s", r.status, r.raw)
	}
	if s := g.call(testClient, "GET", "/v1/sessions/"+r.str("session_id"), tok, nil); s.status != 200 {
		t.Errorf("alice does not own her session: %d %s", s.status, s.raw)
	}
	ev := g.lastDecision(testClient, "alice")
	if ev.AuthMethod != "jwt" || ev.Issuer != devkey.Issuer || !slices.Equal(ev.Roles, []string{"agent"}) {
		t.Errorf("authz.decided = %+v", ev)
	}

	jr := g.call(testClient, "GET", "/.well-known/jwks.json", "", nil)
	var jwks struct{ Keys []map[string]any }
	// The call-token key first, then the dev issuer's.
	if err := json.Unmarshal([]byte(jr.raw), &jwks); jr.status != 200 || err != nil || len(jwks.Keys) != 2 {
		t.Fatalf("jwks: %d %v %s", jr.status, err, jr.raw)
	}
	key, err := devkey.LoadOrCreate(g.dir)
	if err != nil {
		t.Fatal(err)
	}
	k := jwks.Keys[1]
	if k["kid"] != key.KeyID() || k["kty"] != "EC" || k["crv"] != "P-256" || k["x"] == nil {
		t.Errorf("jwks key = %v", k)
	}
	for _, served := range jwks.Keys {
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := served[private]; ok {
				t.Errorf("the served JWKS holds the private member %q", private)
			}
		}
	}

	// The same key signing a token that expired an hour ago (leeway is 30s).
	key.Now = func() time.Time { return time.Now().Add(-2 * time.Hour) }
	expired, err := key.Mint("alice", []string{"agent"}, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	claims, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || !bytes.Contains(claims, []byte(`"agent"`)) {
		t.Fatalf("minted claims %s: %v", claims, err)
	}
	claims = bytes.Replace(claims, []byte(`"agent"`), []byte(`"admin"`), 1)
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(claims) + "." + parts[2]
	for name, bad := range map[string]string{"expired": expired, "tampered": tampered, "signature cut": parts[0] + "." + parts[1] + "."} {
		before := g.lastDecision(testClient, "alice").Seq
		r := g.call(testClient, "POST", "/chat", bad, map[string]string{"message": "hi"})
		if r.status != 403 || r.str("detail") != "Invalid token" {
			t.Errorf("%s token: %d %s", name, r.status, r.raw)
		}
		if after := g.lastDecision(testClient, "alice").Seq; after != before {
			t.Errorf("%s token reached an authorization decision", name)
		}
	}
}

// devIssuerFile makes a dev issuer key and writes its public JWKS to a file.
func devIssuerFile(t *testing.T) (*devkey.Key, string) {
	t.Helper()
	dir := t.TempDir()
	key, err := devkey.LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := key.PublicJWKS()
	path := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(path, jwks, 0o600); err != nil {
		t.Fatal(err)
	}
	return key, path
}

func TestRFC9728_MetadataAndChallenges(t *testing.T) {
	key, jwksFile := devIssuerFile(t)
	const public = "https://gatehouse.example.test"
	g := startGateway(t, gwOptions{config: func(g *gateway) string {
		return g.withIdentity(identityYAML{
			server: "  public_url: \"" + public + "/\"\n",
			auth: fmt.Sprintf("  invalid_token_status: 401\n  jwt:\n    issuers:\n"+
				"      - {issuer: %s, audiences: [%s], algorithms: [ES256], jwks_file: %q}\n"+
				"      - {issuer: \"https://login.example.test/tenant/v2.0\", audiences: [api://gatehouse], jwks_file: %q}\n",
				devkey.Issuer, devkey.Audience, jwksFile, jwksFile),
		})
	}})
	md := g.call(testClient, "GET", "/.well-known/oauth-protected-resource", "", nil)
	var doc struct {
		Resource             string   `json:"resource"`
		AuthorizationServers []string `json:"authorization_servers"`
	}
	if err := json.Unmarshal([]byte(md.raw), &doc); md.status != 200 || err != nil {
		t.Fatalf("metadata: %d %v %s", md.status, err, md.raw)
	}
	if doc.Resource != public || !slices.Equal(doc.AuthorizationServers, []string{devkey.Issuer, "https://login.example.test/tenant/v2.0"}) {
		t.Errorf("metadata = %+v", doc)
	}

	meta := `resource_metadata="` + public + `/.well-known/oauth-protected-resource"`
	r := g.call(testClient, "POST", "/v1/chat", "", map[string]string{"message": "hi"})
	if got := r.header.Get("WWW-Authenticate"); r.status != 401 || got != `Bearer realm="gatehouse", `+meta {
		t.Errorf("no token: %d, WWW-Authenticate %q", r.status, got)
	}
	r = g.call(testClient, "POST", "/v1/chat", "eyJhbGciOiJFUzI1NiJ9.e30.c2ln", map[string]string{"message": "hi"})
	if got := r.header.Get("WWW-Authenticate"); r.status != 401 || r.str("error") != "invalid_token" || r.str("detail") != "Invalid token" ||
		got != `Bearer realm="gatehouse", `+meta+`, error="invalid_token"` {
		t.Errorf("bad token: %d %s, WWW-Authenticate %q", r.status, r.raw, got)
	}
	tok, err := key.Mint("bob", []string{"agent"}, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := g.call(testClient, "POST", "/v1/chat", tok, map[string]string{"message": "hi"}); r.status != 200 {
		t.Errorf("valid token next to the challenges: %d %s", r.status, r.raw)
	}
	if g.upstream.Count() != 1 {
		t.Errorf("model calls = %d, want 1 (the valid token's)", g.upstream.Count())
	}
}

// The metadata document follows the config: a reload that adds the first
// issuer starts serving it (and advertising it on 401s), one that removes
// the last stops.
func TestRFC9728_MetadataFollowsReloads(t *testing.T) {
	_, jwksFile := devIssuerFile(t)
	g := startGateway(t, gwOptions{})
	const path = "/.well-known/oauth-protected-resource"
	if r := g.call(testClient, "GET", path, "", nil); r.status != 404 || r.str("error") != "not_found" {
		t.Fatalf("metadata without issuers: %d %s", r.status, r.raw)
	}
	plain := g.renderConfig(allUsers, gwOptions{})
	g.writeConfig(g.withIdentity(identityYAML{
		server: "  public_url: \"https://gatehouse.example.test\"\n",
		auth: fmt.Sprintf("  jwt:\n    issuers:\n      - {issuer: %s, audiences: [%s], algorithms: [ES256], jwks_file: %q}\n",
			devkey.Issuer, devkey.Audience, jwksFile),
	}))
	if r := g.do("POST", "/admin/reload", "admin", nil); r.status != 200 {
		t.Fatalf("reload adding an issuer: %d %s", r.status, r.raw)
	}
	md := g.call(testClient, "GET", path, "", nil)
	if md.status != 200 || !strings.Contains(md.raw, devkey.Issuer) || !strings.Contains(md.raw, "https://gatehouse.example.test") {
		t.Fatalf("metadata after the reload: %d %s", md.status, md.raw)
	}
	r := g.call(testClient, "POST", "/v1/chat", "", map[string]string{"message": "hi"})
	if got := r.header.Get("WWW-Authenticate"); !strings.Contains(got, `resource_metadata="https://gatehouse.example.test`+path+`"`) {
		t.Errorf("401 after the reload: WWW-Authenticate %q", got)
	}
	g.writeConfig(plain)
	if r := g.do("POST", "/admin/reload", "admin", nil); r.status != 200 {
		t.Fatalf("reload removing the issuer: %d %s", r.status, r.raw)
	}
	if r := g.call(testClient, "GET", path, "", nil); r.status != 404 {
		t.Errorf("metadata after removing the issuer: %d %s", r.status, r.raw)
	}
}

func TestMTLS_ClientCertificatesThroughTheGateway(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, dir, "gatehouse test CA")
	now := time.Now()
	valid := x509.Certificate{NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}
	serverCert, serverKey, _ := ca.issue(t, dir, "server", valid, func(c *x509.Certificate) {
		c.Subject.CommonName = "gatehouse"
		c.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	})
	spiffe := func(id string) func(*x509.Certificate) {
		return func(c *x509.Certificate) { c.URIs = []*url.URL{mustURL(t, id)} }
	}
	const bot = "spiffe://corp/ns/ops/sa/bot"
	_, _, botPair := ca.issue(t, dir, "bot", valid, spiffe(bot))
	_, _, cnPair := ca.issue(t, dir, "cn", valid, func(c *x509.Certificate) { c.Subject.CommonName = "reports-batch" })
	_, _, strayPair := ca.issue(t, dir, "stray", valid, spiffe("spiffe://corp/ns/sales/sa/bot"))
	_, _, expiredPair := ca.issue(t, dir, "expired", x509.Certificate{NotBefore: now.Add(-3 * time.Hour), NotAfter: now.Add(-time.Hour)}, spiffe(bot))
	_, _, roguePair := newTestCA(t, dir, "rogue CA").issue(t, dir, "rogue", valid, spiffe(bot))

	g := startGateway(t, gwOptions{config: func(g *gateway) string {
		return g.withIdentity(identityYAML{
			server: fmt.Sprintf("  tls: {cert_file: %q, key_file: %q, client_ca_file: %q}\n", serverCert, serverKey, ca.file),
			auth: "  mtls:\n    identities:\n" +
				"      - {match: \"spiffe://corp/ns/ops/*\", roles: [agent]}\n" +
				"      - {match: reports-batch, roles: [viewer]}\n",
		})
	}})
	if !strings.HasPrefix(g.base, "https://127.0.0.1:") {
		t.Fatalf("base = %s", g.base)
	}
	plain := ca.client(nil)
	chat := map[string]string{"message": "hello"}

	r := g.call(ca.client(&botPair), "POST", "/v1/chat", "", chat)
	if r.status != 200 {
		t.Fatalf("SPIFFE cert, no token: %d %s", r.status, r.raw)
	}
	ev := g.lastDecision(plain, bot)
	if ev.AuthMethod != "mtls" || !slices.Equal(ev.Roles, []string{"agent"}) || ev.Decision != audit.Allow {
		t.Errorf("SPIFFE cert authz.decided = %+v", ev)
	}
	if r := g.call(ca.client(&cnPair), "POST", "/v1/chat", "", chat); r.status != 403 || r.str("detail") != "Not authorized for this action" {
		t.Errorf("CN-only cert mapped to viewer: %d %s", r.status, r.raw)
	}
	if ev := g.lastDecision(plain, "reports-batch"); ev.AuthMethod != "mtls" || !slices.Equal(ev.Roles, []string{"viewer"}) || ev.Decision != audit.Deny {
		t.Errorf("CN cert authz.decided = %+v", ev)
	}
	if r := g.call(ca.client(&strayPair), "POST", "/v1/chat", "", chat); r.status != 403 || r.str("detail") != "Invalid token" {
		t.Errorf("trusted but unmapped cert: %d %s", r.status, r.raw)
	}
	if r := g.call(plain, "POST", "/v1/chat", "", chat); r.status != 401 || r.str("error") != "missing_token" {
		t.Errorf("no cert, no token: %d %s", r.status, r.raw)
	}

	t.Run("untrusted and expired certificates fail the handshake", func(t *testing.T) {
		calls, seq := g.upstream.Count(), g.lastDecision(plain, bot).Seq
		for _, c := range []struct {
			name string
			pair *tls.Certificate
			want string // the server's TLS alert
		}{{"untrusted CA", &roguePair, "tls: unknown certificate authority"}, {"expired", &expiredPair, "tls: expired certificate"}} {
			_, err := g.try(ca.client(c.pair), "POST", "/v1/chat", "", chat)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: err = %v, want a handshake failure with %q", c.name, err, c.want)
			}
		}
		if g.upstream.Count() != calls || g.lastDecision(plain, bot).Seq != seq {
			t.Error("a refused certificate reached the model or an authorization decision")
		}
	})

	t.Run("cert and token: the token's subject, the cert recorded", func(t *testing.T) {
		r := g.call(ca.client(&botPair), "POST", "/v1/chat", g.keys["agent"], chat)
		if r.status != 200 {
			t.Fatalf("cert + API key: %d %s", r.status, r.raw)
		}
		ev := g.lastDecision(plain, "agent")
		if ev.AuthMethod != "api_key" || !strings.Contains(ev.Reason, "client certificate: "+bot) {
			t.Errorf("authz.decided = %+v, want the key's subject and the cert identity in the reason", ev)
		}
		// The cert's roles do not add to the token's.
		if r := g.call(ca.client(&botPair), "POST", "/v1/chat", g.keys["viewer"], chat); r.status != 403 || r.str("detail") != "Not authorized for this action" {
			t.Errorf("cert + viewer key: %d %s", r.status, r.raw)
		}
		calls := g.upstream.Count()
		if r := g.call(ca.client(&botPair), "POST", "/v1/chat", "super-secret-token", chat); r.status != 403 || r.str("detail") != "Invalid token" {
			t.Errorf("cert + invalid token: %d %s", r.status, r.raw)
		}
		if r := g.call(ca.client(&strayPair), "POST", "/v1/chat", g.keys["agent"], chat); r.status != 403 || r.str("detail") != "Invalid token" {
			t.Errorf("unmapped cert + valid key: %d %s", r.status, r.raw)
		}
		if g.upstream.Count() != calls {
			t.Error("a refused credential reached the model")
		}
	})
}

// identityYAML is what the identity tests add to the harness config.
type identityYAML struct {
	server string // lines under server:
	auth   string // lines under auth:, after api_keys
	scopes string // authz.scopes
}

// withIdentity renders the harness config (every test user's API key) with
// extra server, auth and authz.scopes settings.
func (g *gateway) withIdentity(y identityYAML) string {
	g.t.Helper()
	cfg := g.renderConfig(allUsers, gwOptions{})
	if y.scopes == "" {
		y.scopes = "{}"
	}
	for old, repl := range map[string]string{
		"server:\n":            "server:\n" + y.server,
		"\nauthz:\n  roles:\n": "\n" + y.auth + "authz:\n  scopes: " + y.scopes + "\n  roles:\n",
	} {
		if strings.Count(cfg, old) != 1 {
			g.t.Fatalf("harness config changed shape: %q", old)
		}
		cfg = strings.Replace(cfg, old, repl, 1)
	}
	return cfg
}

// try sends a request through client with a raw bearer token ("" = none).
func (g *gateway) try(client *http.Client, method, path, token string, body any) (response, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, g.base+path, rd)
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	g.checkAPI(req, resp.StatusCode, resp.Header, raw)
	return r, nil
}

func (g *gateway) call(client *http.Client, method, path, token string, body any) response {
	g.t.Helper()
	r, err := g.try(client, method, path, token, body)
	if err != nil {
		g.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// lastDecision is the newest authz.decided event for subject (zero when
// none), read through /admin/audit as the admin user.
func (g *gateway) lastDecision(client *http.Client, subject string) audit.Event {
	g.t.Helper()
	r := g.call(client, "GET", "/admin/audit?type=authz.decided&limit=1000&subject="+url.QueryEscape(subject), g.keys["admin"], nil)
	var page audit.Page
	if err := json.Unmarshal([]byte(r.raw), &page); r.status != 200 || err != nil {
		g.t.Fatalf("admin/audit: %d %v %s", r.status, err, r.raw)
	}
	var last audit.Event
	for _, e := range page.Events {
		if e.Seq > last.Seq {
			last = e
		}
	}
	return last
}

// startDev runs `serve --dev` on a fresh data dir; g.keys["admin"] is the
// dev admin's API key.
func startDev(t *testing.T) *gateway {
	t.Helper()
	g := &gateway{t: t, dir: t.TempDir(), keys: map[string]string{}, stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--dev", "--data-dir", g.dir, "--addr", "127.0.0.1:0"}, func(string) string { return "" }, nil, g.stdout, g.stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve --dev: %v\n%s", err, g.stderr.String())
			}
		case <-time.After(30 * time.Second):
			t.Error("serve --dev did not stop")
		}
	})
	deadline := time.After(20 * time.Second)
	for {
		if _, after, ok := strings.Cut(g.stdout.String(), "gatehouse listening on "); ok {
			g.base = strings.TrimSpace(strings.SplitN(after, "\n", 2)[0])
			break
		}
		select {
		case err := <-done:
			done <- err
			t.Fatalf("serve --dev exited early: %v\n%s", err, g.stderr.String())
		case <-deadline:
			t.Fatalf("serve --dev did not start\n%s", g.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	creds, err := os.ReadFile(filepath.Join(g.dir, "dev-credentials.env"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(creds), "\n") {
		if k, v, ok := strings.Cut(line, "_KEY="); ok && strings.HasPrefix(k, "GATEHOUSE_") {
			g.keys[strings.ToLower(strings.TrimPrefix(k, "GATEHOUSE_"))] = v
		}
	}
	if g.keys["admin"] == "" {
		t.Fatal("dev-credentials.env has no admin key")
	}
	return g
}

// testCA is a certificate authority made for one test, its certificate in
// file (PEM).
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string
	pool *x509.CertPool
}

func newTestCA(t *testing.T, dir, name string) *testCA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: serial(t), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-24 * time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &testCA{cert: cert, key: key, file: filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".pem"), pool: x509.NewCertPool()}
	ca.pool.AddCert(cert)
	writePEM(t, ca.file, "CERTIFICATE", der)
	return ca
}

// issue signs a leaf certificate valid over base's NotBefore..NotAfter
// (client auth unless edit says otherwise), writes it and its key to dir, and
// returns the files and the pair.
func (ca *testCA) issue(t *testing.T, dir, name string, base x509.Certificate, edit func(*x509.Certificate)) (certFile, keyFile string, pair tls.Certificate) {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: serial(t), Subject: pkix.Name{CommonName: name},
		NotBefore: base.NotBefore, NotAfter: base.NotAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if edit != nil {
		edit(tmpl)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "EC PRIVATE KEY", kder)
	pair, err = tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, pair
}

// client is an HTTPS client trusting only ca, presenting cert when non-nil.
// The cert is presented whatever CAs the server names as acceptable (with
// tls.Config.Certificates Go would quietly send none), as an attacker would.
func (ca *testCA) client(cert *tls.Certificate) *http.Client {
	tc := &tls.Config{RootCAs: ca.pool, MinVersion: tls.VersionTLS12}
	if cert != nil {
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true}}
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func serial(t *testing.T) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestSessions_OwnerIsMethodIssuerAndSubject: a dev-issuer JWT whose sub is
// "agent" is not the API-key subject "agent", so it cannot read or continue
// that subject's session.
func TestSessions_OwnerIsMethodIssuerAndSubject(t *testing.T) {
	g := startDev(t)
	own := g.do("POST", "/v1/chat", "agent", map[string]string{"message": "mine"})
	if own.status != 200 {
		t.Fatalf("%d %s", own.status, own.raw)
	}
	id := own.str("session_id")
	var out, errb syncBuffer
	if err := run(context.Background(), []string{"token", "--data-dir", g.dir, "--subject", "agent", "--roles", "agent"}, func(string) string { return "" }, nil, &out, &errb); err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(out.String())
	for _, c := range []struct{ method, path string }{{"GET", "/v1/sessions/" + id}, {"POST", "/v1/chat"}} {
		req, _ := http.NewRequest(c.method, g.base+c.path, strings.NewReader(`{"message":"same sub, other issuer","session_id":"`+id+`"}`))
		req.Header.Set("Authorization", "Bearer "+tok)
		if r := g.send(req); r.status != 404 {
			t.Errorf("%s %s with a JWT for sub=agent: %d %s", c.method, c.path, r.status, r.raw)
		}
	}
	if r := g.do("GET", "/v1/sessions/"+id, "agent", nil); r.status != 200 || r.str("subject") != "agent" || strings.Contains(r.raw, "other issuer") {
		t.Fatalf("owner: %d %s", r.status, r.raw)
	}
}

// config check judges JWT issuers as serve and reload do, without fetching
// keys: every refusal New would make shows up before deployment.
func TestConfigCheck_JWTIssuersAreChecked(t *testing.T) {
	_, jwksFile := devIssuerFile(t)
	jwksDir := filepath.Dir(jwksFile)
	garbage := filepath.Join(jwksDir, "garbage.json")
	if err := os.WriteFile(garbage, []byte(`{"keys": [{"kty": "nonsense"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, gwOptions{})
	issuer := func(extra string) string {
		return fmt.Sprintf("  jwt:\n    issuers:\n      - {issuer: %s, audiences: [%s], %s}\n", devkey.Issuer, devkey.Audience, extra)
	}
	check := func(auth string) error {
		path := filepath.Join(t.TempDir(), "gatehouse.yaml")
		if err := os.WriteFile(path, []byte(g.withIdentity(identityYAML{auth: auth})), 0o600); err != nil {
			t.Fatal(err)
		}
		var out, errb syncBuffer
		return run(context.Background(), []string{"config", "check", path}, func(k string) string { return g.env[k] }, nil, &out, &errb)
	}
	for _, c := range []struct{ name, auth, want string }{
		{"unknown algorithm", issuer(fmt.Sprintf("algorithms: [RS257], jwks_file: %q", jwksFile)), `algorithm "RS257"`},
		{"leeway over the bound", issuer(fmt.Sprintf("leeway: 10m, jwks_file: %q", jwksFile)), "leeway"},
		{"plain-http jwks_url off loopback", issuer(`jwks_url: "http://idp.example.test/jwks"`), "jwks_url"},
		{"issuer twice", issuer(fmt.Sprintf("jwks_file: %q", jwksFile)) + strings.TrimPrefix(issuer(fmt.Sprintf("jwks_file: %q", jwksFile)), "  jwt:\n    issuers:\n"), "configured twice"},
		{"missing jwks_file", issuer(fmt.Sprintf("jwks_file: %q", filepath.Join(jwksDir, "nope.json"))), "jwks_file"},
		{"unreadable JWKS", issuer(fmt.Sprintf("jwks_file: %q", garbage)), "jwks"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := check(c.auth); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("config check: %v, want it to name %q", err, c.want)
			}
		})
	}
	// A good issuer passes, with discovery left for serve (no network here).
	if err := check(issuer(fmt.Sprintf("jwks_file: %q", jwksFile))); err != nil {
		t.Errorf("good issuer: %v", err)
	}
	discovery := fmt.Sprintf("  jwt:\n    issuers:\n      - {issuer: \"https://idp.example.test/\", audiences: [%s]}\n", devkey.Audience)
	if err := check(discovery); err != nil {
		t.Errorf("issuer with discovery: %v", err)
	}
}

// token signs with the key of an existing dev data dir; pointed elsewhere
// (a typo, the wrong working directory) it says so instead of making a new
// key whose tokens no server accepts.
func TestTokenCommand_NeedsTheDataDirsKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gatehouse-data")
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"token", "--data-dir", dir, "--subject", "alice", "--roles", "agent"}, func(string) string { return "" }, nil, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "no dev issuer key in "+dir) || out.Len() != 0 {
		t.Fatalf("token without a key: %v, printed %q", err, out.String())
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("token created %s: %v", dir, err)
	}
}
