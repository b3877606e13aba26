package authz_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehousehq/gatehouse/internal/authz"
	"github.com/gatehousehq/gatehouse/internal/principal"
)

// A delegated call holds what both the subject and every actor hold.
func TestPermissions_DelegationIsTheIntersection(t *testing.T) {
	ps := testPerms()
	// customer: respond, payments.read; admin: respond, policies.write, claims.read.
	user := func(actors ...principal.Actor) *principal.Principal {
		return &principal.Principal{Subject: "alice", Roles: []string{"customer"}, Actor: actors}
	}
	powerful := principal.Actor{Subject: "support-bot", Roles: []string{"admin"}}
	weak := principal.Actor{ClientID: "report-cli", Roles: []string{"viewer"}}
	tests := []struct {
		name string
		p    *principal.Principal
		perm string
		want authz.Decision
	}{
		{"both hold it", user(powerful), "respond", authz.Decision{Allow: true,
			Rule: "role:customer grants respond; actor support-bot role:admin grants respond"}},
		{"actor with more permissions than the user gains nothing", user(powerful), "policies.write",
			authz.Decision{Rule: "default deny", Reason: "no role or scope of the caller grants policies.write"}},
		{"user holds it, actor does not", user(powerful), "payments.read", authz.Decision{
			Rule: "delegation: actor support-bot lacks payments.read", Reason: "the actor acting for the caller may not payments.read"}},
		{"one actor of the chain lacks it", user(powerful, weak), "respond", authz.Decision{
			Rule: "delegation: actor client:report-cli lacks respond", Reason: "the actor acting for the caller may not respond"}},
		{"actor without roles", user(principal.Actor{Subject: "bare"}), "respond", authz.Decision{
			Rule: "delegation: actor bare lacks respond", Reason: "the actor acting for the caller may not respond"}},
		{"grants: subject — the issuer's actors bound nothing", user(principal.Actor{Subject: "vouched", Unbounded: true}), "payments.read",
			authz.Decision{Allow: true, Rule: "role:customer grants payments.read"}},
		{"grants: subject never adds to the subject's grants", user(principal.Actor{Subject: "vouched", Unbounded: true}), "policies.write",
			authz.Decision{Rule: "default deny", Reason: "no role or scope of the caller grants policies.write"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, ps.Check(tc.p, tc.perm)); diff != "" {
				t.Errorf("Check (-want +got):\n%s", diff)
			}
			if has := ps.Has(tc.p, tc.perm); has != tc.want.Allow {
				t.Errorf("Has = %v; want %v", has, tc.want.Allow)
			}
		})
	}
	if diff := cmp.Diff([]string{"respond"}, ps.Granted(user(powerful))); diff != "" {
		t.Errorf("Granted (-want +got):\n%s", diff)
	}
}
