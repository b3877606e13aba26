package authz

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehousehq/gatehouse/internal/principal"
)

func TestStanding_MatchesWhatAuthorizeToolDecidesForTheRole(t *testing.T) {
	ps := NewPermissions(map[string][]string{"agent": {"claims.read"}, "customer": {"payments.read"}, "viewer": {"read"}}, nil)
	always := func(context.Context, *principal.Principal, map[string]any) (bool, error) { return true, nil }
	claims := ToolPolicy{Tool: "claims_status", Permission: "claims.read"}
	approved := ToolPolicy{Tool: "claims_status", Permission: "claims.read",
		Approval: &ApprovalRule{WhenSource: "args.amount > 100", Approvers: []string{"supervisor"}}}
	payments := ToolPolicy{Tool: "payments_lookup", Permission: "payments.read", Condition: always, Source: "args.customer_id == principal.claims.customer_id"}
	if got, want := ps.Roles(), []string{"agent", "customer", "viewer"}; !cmp.Equal(got, want) {
		t.Errorf("Roles() = %v; want %v", got, want)
	}
	for _, c := range []struct {
		role string
		pol  ToolPolicy
		want Cell
	}{
		{"agent", claims, Cell{Role: "agent", Tool: "claims_status", Standing: StandingAllowed, Rule: "role:agent grants claims.read"}},
		{"viewer", claims, Cell{Role: "viewer", Tool: "claims_status", Standing: StandingDenied, Rule: "default deny"}},
		{"customer", payments, Cell{Role: "customer", Tool: "payments_lookup", Standing: StandingConditional, Rule: "role:customer grants payments.read", Condition: payments.Source}},
		{"agent", payments, Cell{Role: "agent", Tool: "payments_lookup", Standing: StandingDenied, Rule: "default deny", Condition: payments.Source}},
		// A tool needing approval says so where the role may call it, and
		// only there.
		{"agent", approved, Cell{Role: "agent", Tool: "claims_status", Standing: StandingAllowed, Rule: "role:agent grants claims.read",
			Approval: &CellApproval{When: "args.amount > 100", Approvers: []string{"supervisor"}}}},
		{"viewer", approved, Cell{Role: "viewer", Tool: "claims_status", Standing: StandingDenied, Rule: "default deny"}},
	} {
		got := ps.Standing(c.role, c.pol)
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("%s × %s (-want +got):\n%s", c.role, c.pol.Tool, diff)
		}
		// The matrix never says more than the gate: a denied cell is a
		// call the gate denies, an allowed or conditional one passes the
		// permission check the gate starts with.
		d := ps.AuthorizeTool(context.Background(), &principal.Principal{Roles: []string{c.role}}, c.pol, map[string]any{})
		if d.Allow != (got.Standing != StandingDenied) {
			t.Errorf("%s × %s: standing %s, gate allow=%v", c.role, c.pol.Tool, got.Standing, d.Allow)
		}
	}
}
