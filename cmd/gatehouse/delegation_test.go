package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/llm/llmtest"
)

const delegIssuer = "https://idp.delegation.test"

// delegIdP signs tokens of delegIssuer with a key whose JWKS is in a file.
type delegIdP struct {
	key      jwk.Key
	jwksFile string
}

func newDelegIdP(t *testing.T) *delegIdP {
	t.Helper()
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := jwk.Import(raw)
	if err != nil {
		t.Fatal(err)
	}
	_ = priv.Set(jwk.KeyIDKey, "deleg-1")
	pub, _ := priv.PublicKey()
	set := jwk.NewSet()
	_ = set.AddKey(pub)
	b, _ := json.Marshal(set)
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return &delegIdP{key: priv, jwksFile: path}
}

// token is alice's token (roles [agent]) with act as given (nil: none).
func (p *delegIdP) token(t *testing.T, act map[string]any) string {
	t.Helper()
	b := jwt.NewBuilder().Issuer(delegIssuer).Audience([]string{"gatehouse"}).Subject("alice").
		IssuedAt(time.Now()).Expiration(time.Now().Add(time.Hour)).Claim("roles", []string{"agent"})
	if act != nil {
		b = b.Claim("act", act)
	}
	tok, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	s, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256(), p.key))
	if err != nil {
		t.Fatal(err)
	}
	return string(s)
}

func claimScript(_ int, req *llmtest.Request) llmtest.Reply {
	if req.Last().Role == "tool" {
		return llmtest.Reply{Content: "Claim CLM-1001 is open."}
	}
	return llmtest.Reply{ToolCalls: []llmtest.ToolCall{llmtest.Call("c1", "claims_status", `{"claim_id":"CLM-1001"}`)}}
}

// A delegated run: the actor is listed, every event of the request names
// the chain; an unlisted actor is refused and recorded; an actor whose
// roles lack what the call needs stops the call though alice holds it.
func TestDelegation_ActorChainThroughTheGateway(t *testing.T) {
	idp := newDelegIdP(t)
	g := startGateway(t, gwOptions{script: claimScript, config: func(g *gateway) string {
		return g.withIdentity(identityYAML{auth: fmt.Sprintf("  jwt:\n    issuers:\n"+
			"      - {issuer: %s, audiences: [gatehouse], algorithms: [ES256], jwks_file: %q,\n"+
			"         delegation: {max_chain: 2, actors: {support-bot: {roles: [agent]}, platform: {roles: [admin]}, reader-bot: {roles: [viewer]}}}}\n",
			delegIssuer, idp.jwksFile)})
	}})
	chain := map[string]any{"sub": "support-bot", "act": map[string]any{"sub": "platform"}}
	r := g.call(testClient, "POST", "/v1/chat", idp.token(t, chain), map[string]string{"message": "status of CLM-1001?"})
	if r.status != 200 {
		t.Fatalf("delegated chat: %d %s", r.status, r.raw)
	}
	events := g.auditBySubject(t, "alice")
	want := []audit.Actor{{Subject: "support-bot"}, {Subject: "platform"}}
	types := map[string]bool{}
	for _, e := range events {
		types[e.Type] = true
		if diff := cmp.Diff(want, e.Actor); diff != "" {
			t.Errorf("%s event's actor (-want +got):\n%s", e.Type, diff)
		}
	}
	for _, typ := range []string{audit.TypeAuthzDecided, audit.TypeRunStarted, audit.TypeToolDecided, audit.TypeToolFinished, audit.TypeRunFinished} {
		if !types[typ] {
			t.Errorf("no %s event among alice's: %v", typ, types)
		}
	}

	r = g.call(testClient, "POST", "/v1/chat", idp.token(t, map[string]any{"sub": "evil-bot"}), map[string]string{"message": "hi"})
	if r.status != 403 {
		t.Errorf("unlisted actor: %d %s", r.status, r.raw)
	}
	var refused bool
	for _, e := range g.auditByType(t, audit.TypeAuthFailed) {
		refused = refused || strings.HasPrefix(e.Reason, "delegation refused")
	}
	if !refused {
		t.Error("the unlisted actor's refusal is not recorded")
	}
	// reader-bot holds viewer (read): alice's respond is not the actor's.
	r = g.call(testClient, "POST", "/v1/chat", idp.token(t, map[string]any{"sub": "reader-bot"}), map[string]string{"message": "hi"})
	if r.status != 403 || g.upstream.Count() != 2 {
		t.Errorf("actor without respond: %d %s (model calls %d)", r.status, r.raw, g.upstream.Count())
	}
}

func (g *gateway) auditBySubject(t *testing.T, subject string) []audit.Event {
	return g.auditQuery(t, "subject="+url.QueryEscape(subject))
}

func (g *gateway) auditByType(t *testing.T, typ string) []audit.Event {
	return g.auditQuery(t, "type="+url.QueryEscape(typ))
}

func (g *gateway) auditQuery(t *testing.T, q string) []audit.Event {
	t.Helper()
	r := g.call(testClient, "GET", "/admin/audit?limit=1000&"+q, g.keys["admin"], nil)
	var page audit.Page
	if err := json.Unmarshal([]byte(r.raw), &page); r.status != 200 || err != nil {
		t.Fatalf("admin/audit: %d %v %s", r.status, err, r.raw)
	}
	return page.Events
}
