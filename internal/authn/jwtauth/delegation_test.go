package jwtauth

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehousehq/gatehouse/internal/principal"
)

// Hostile and honest "act" chains, judged by an issuer whose delegation lets
// support-bot act for anyone and report-bot (client id) only for bob; a
// second issuer lists nobody.
func TestVerifyToken_DelegationChains(t *testing.T) {
	keyA, keyB := newTestKey(t, "ES256", "a"), newTestKey(t, "ES256", "b")
	srvA, srvB := newKeyServer(t, keyA), newKeyServer(t, keyB)
	icA := issuerConfig(srvA.URL)
	icA.Delegation = &Delegation{MaxChain: 2, Actors: map[string]ActorPolicy{
		"support-bot": {Roles: []string{"agent"}},
		"report-cli":  {Roles: []string{"viewer"}, Subjects: []string{"bob"}},
		"platform":    {Roles: []string{"agent"}},
	}}
	icB := issuerConfig(srvB.URL)
	icB.Delegation = &Delegation{Actors: map[string]ActorPolicy{"other-bot": {Roles: []string{"agent"}}}}
	v := newVerifier(t, Config{Issuers: []IssuerConfig{icA, icB}})
	now := time.Now()

	tok := func(k testKey, iss string, edit func(map[string]any)) string {
		c := claimsFor(iss, now)
		edit(c)
		return k.sign(t, c, nil)
	}
	act := func(sub string, inner ...map[string]any) map[string]any {
		m := map[string]any{"sub": sub}
		if len(inner) > 0 {
			m["act"] = inner[0]
		}
		return m
	}
	cases := []struct {
		name  string
		token string
		want  []principal.Actor // nil with ok=false: refused
		ok    bool
	}{
		{"no act", tok(keyA, srvA.URL, func(map[string]any) {}), nil, true},
		{"listed actor", tok(keyA, srvA.URL, func(c map[string]any) { c["act"] = act("support-bot") }),
			[]principal.Actor{{Subject: "support-bot", Roles: []string{"agent"}}}, true},
		{"chain within the limit, nearest first", tok(keyA, srvA.URL, func(c map[string]any) { c["act"] = act("support-bot", act("platform")) }),
			[]principal.Actor{{Subject: "support-bot", Roles: []string{"agent"}}, {Subject: "platform", Roles: []string{"agent"}}}, true},
		{"chain deeper than the limit", tok(keyA, srvA.URL, func(c map[string]any) {
			c["act"] = act("support-bot", act("platform", act("support-bot")))
		}), nil, false},
		{"unlisted actor", tok(keyA, srvA.URL, func(c map[string]any) { c["act"] = act("evil-bot") }), nil, false},
		{"unlisted actor further out", tok(keyA, srvA.URL, func(c map[string]any) { c["act"] = act("support-bot", act("evil-bot")) }), nil, false},
		{"actor matched by client_id, allowed for bob", tok(keyA, srvA.URL, func(c map[string]any) {
			c["sub"], c["act"] = "bob", map[string]any{"sub": "svc-123", "client_id": "report-cli"}
		}), []principal.Actor{{Subject: "svc-123", ClientID: "report-cli", Roles: []string{"viewer"}}}, true},
		{"actor not allowed for that subject", tok(keyA, srvA.URL, func(c map[string]any) {
			c["act"] = map[string]any{"client_id": "report-cli"} // alice, not bob
		}), nil, false},
		{"act not an object", tok(keyA, srvA.URL, func(c map[string]any) { c["act"] = "support-bot" }), nil, false},
		{"act sub not a string", tok(keyA, srvA.URL, func(c map[string]any) { c["act"] = map[string]any{"sub": 7} }), nil, false},
		{"empty act", tok(keyA, srvA.URL, func(c map[string]any) { c["act"] = map[string]any{} }), nil, false},
		{"may_act names the actor", tok(keyA, srvA.URL, func(c map[string]any) {
			c["act"], c["may_act"] = act("support-bot"), map[string]any{"sub": "support-bot"}
		}), []principal.Actor{{Subject: "support-bot", Roles: []string{"agent"}}}, true},
		{"may_act names someone else", tok(keyA, srvA.URL, func(c map[string]any) {
			c["act"], c["may_act"] = act("support-bot"), map[string]any{"sub": "platform"}
		}), nil, false},
		// Issuer B signs an act naming A's actor: B's own list decides.
		{"forged act from another issuer", tok(keyB, srvB.URL, func(c map[string]any) { c["act"] = act("support-bot") }), nil, false},
		// A token claiming issuer A, signed with B's key.
		{"act under issuer A signed by B", tok(keyB, srvA.URL, func(c map[string]any) { c["act"] = act("support-bot") }), nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := v.VerifyToken(context.Background(), tc.token)
			if !tc.ok {
				mustBeInvalid(t, err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, p.Actor); diff != "" {
				t.Errorf("actors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVerifyToken_ActRefusedWithoutDelegationOrRequired(t *testing.T) {
	k := newTestKey(t, "ES256", "k")
	srv := newKeyServer(t, k)
	plain := issuerConfig(srv.URL)
	v := newVerifier(t, Config{Issuers: []IssuerConfig{plain}})
	c := claimsFor(srv.URL, time.Now())
	c["act"] = map[string]any{"sub": "support-bot"}
	mustBeInvalid(t, verify(t, v, k.sign(t, c, nil)))

	required := issuerConfig(srv.URL)
	required.Delegation = &Delegation{RequireAct: true, Actors: map[string]ActorPolicy{"support-bot": {}}}
	v = newVerifier(t, Config{Issuers: []IssuerConfig{required}})
	mustBeInvalid(t, verify(t, v, k.sign(t, claimsFor(srv.URL, time.Now()), nil)))
	if err := verify(t, v, k.sign(t, c, nil)); err != nil {
		t.Errorf("delegated token refused: %v", err)
	}
}

// grants: subject — the issuer vouches for its actors: they are still
// checked against the list and recorded, but bound nothing of their own.
func TestVerifyToken_SubjectGrantsActorsAreUnbounded(t *testing.T) {
	k := newTestKey(t, "ES256", "k")
	srv := newKeyServer(t, k)
	ic := issuerConfig(srv.URL)
	ic.Delegation = &Delegation{SubjectGrants: true, Actors: map[string]ActorPolicy{"support-bot": {Roles: []string{"agent"}}}}
	v := newVerifier(t, Config{Issuers: []IssuerConfig{ic}})
	c := claimsFor(srv.URL, time.Now())
	c["act"] = map[string]any{"sub": "support-bot"}
	p, err := v.VerifyToken(context.Background(), k.sign(t, c, nil))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]principal.Actor{{Subject: "support-bot", Unbounded: true}}, p.Actor); diff != "" {
		t.Errorf("actors (-want +got):\n%s", diff)
	}
	c["act"] = map[string]any{"sub": "evil-bot"}
	mustBeInvalid(t, verify(t, v, k.sign(t, c, nil)))
}
