package authz_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehousehq/gatehouse/internal/authz"
	"github.com/gatehousehq/gatehouse/internal/authz/condition"
	"github.com/gatehousehq/gatehouse/internal/principal"
)

func testPerms() *authz.Permissions {
	return authz.NewPermissions(
		map[string][]string{
			"agent":    {"respond", "claims.read", "payments.read"},
			"admin":    {"respond", "policies.write", "claims.read"},
			"viewer":   {"health"},
			"customer": {"respond", "payments.read"},
		},
		map[string][]string{
			"claims:read": {"claims.read"},
			"chat":        {"respond"},
		},
	)
}

func TestPermissions_Check(t *testing.T) {
	ps := testPerms()
	tests := []struct {
		name string
		p    *principal.Principal
		perm string
		want authz.Decision
	}{
		{"role grants", &principal.Principal{Roles: []string{"agent"}}, "claims.read",
			authz.Decision{Allow: true, Rule: "role:agent grants claims.read"}},
		{"second role grants", &principal.Principal{Roles: []string{"viewer", "admin"}}, "policies.write",
			authz.Decision{Allow: true, Rule: "role:admin grants policies.write"}},
		{"scope grants", &principal.Principal{Scopes: []string{"openid", "claims:read"}}, "claims.read",
			authz.Decision{Allow: true, Rule: "scope:claims:read grants claims.read"}},
		{"role named before scope", &principal.Principal{Roles: []string{"agent"}, Scopes: []string{"claims:read"}}, "claims.read",
			authz.Decision{Allow: true, Rule: "role:agent grants claims.read"}},
		{"role lacks permission", &principal.Principal{Roles: []string{"viewer"}}, "respond",
			authz.Decision{Rule: "default deny", Reason: "no role or scope of the caller grants respond"}},
		{"unknown role", &principal.Principal{Roles: []string{"root"}}, "respond",
			authz.Decision{Rule: "default deny", Reason: "no role or scope of the caller grants respond"}},
		{"scope name is not a role", &principal.Principal{Roles: []string{"chat"}}, "respond",
			authz.Decision{Rule: "default deny", Reason: "no role or scope of the caller grants respond"}},
		{"unknown permission", &principal.Principal{Roles: []string{"admin"}}, "everything",
			authz.Decision{Rule: "default deny", Reason: "no role or scope of the caller grants everything"}},
		{"no roles or scopes", &principal.Principal{Subject: "x"}, "respond",
			authz.Decision{Rule: "default deny", Reason: "no role or scope of the caller grants respond"}},
		{"nil principal", nil, "respond",
			authz.Decision{Rule: "default deny", Reason: "no authenticated caller"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ps.Check(tc.p, tc.perm)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Check (-want +got):\n%s", diff)
			}
			if has := ps.Has(tc.p, tc.perm); has != tc.want.Allow {
				t.Errorf("Has = %v; want %v", has, tc.want.Allow)
			}
		})
	}
}

func TestPermissions_EmptyMapsDenyEverything(t *testing.T) {
	ps := authz.NewPermissions(nil, nil)
	d := ps.Check(&principal.Principal{Roles: []string{"admin"}, Scopes: []string{"chat"}}, "respond")
	if d.Allow || d.Rule != "default deny" {
		t.Errorf("Check = %+v; want default deny", d)
	}
}

func TestPermissions_GrantedListsRoleAndScopePermissionsSorted(t *testing.T) {
	ps := testPerms()
	tests := []struct {
		name string
		p    *principal.Principal
		want []string
	}{
		{"one role", &principal.Principal{Roles: []string{"customer"}}, []string{"payments.read", "respond"}},
		{"roles and scopes merged without duplicates", &principal.Principal{Roles: []string{"agent", "admin"}, Scopes: []string{"claims:read", "chat"}},
			[]string{"claims.read", "payments.read", "policies.write", "respond"}},
		{"unknown role", &principal.Principal{Roles: []string{"root"}}, nil},
		{"nil principal", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, ps.Granted(tc.p)); diff != "" {
				t.Errorf("Granted (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPermissions_VisibleNeedsThePermissionNotTheCondition(t *testing.T) {
	ps := testPerms()
	never := func(context.Context, *principal.Principal, map[string]any) (bool, error) { return false, nil }
	pol := authz.ToolPolicy{Tool: "policy_update", Permission: "policies.write", Condition: never, Source: "false"}
	if !ps.Visible(&principal.Principal{Roles: []string{"admin"}}, pol) {
		t.Error("admin cannot see policy_update; the permission alone decides visibility")
	}
	if ps.Visible(&principal.Principal{Roles: []string{"agent"}}, pol) {
		t.Error("agent sees policy_update without policies.write")
	}
	if ps.Visible(nil, pol) {
		t.Error("nil principal sees a tool")
	}
}

func TestPermissions_AuthorizeTool(t *testing.T) {
	ps := testPerms()
	agent := &principal.Principal{Subject: "a", Roles: []string{"agent"}, Claims: map[string]any{"customer_id": "C-100"}}
	args := map[string]any{"customer_id": "C-100"}
	cond := func(ok bool, err error) authz.Condition {
		return func(context.Context, *principal.Principal, map[string]any) (bool, error) { return ok, err }
	}
	tests := []struct {
		name       string
		p          *principal.Principal
		pol        authz.ToolPolicy
		wantAllow  bool
		wantRule   string
		wantReason []string // substrings
	}{
		{"no permission", &principal.Principal{Roles: []string{"viewer"}},
			authz.ToolPolicy{Tool: "payments_lookup", Permission: "payments.read", Condition: cond(true, nil), Source: "true"},
			false, "default deny", []string{"payments_lookup", "payments.read"}},
		{"nil principal", nil,
			authz.ToolPolicy{Tool: "payments_lookup", Permission: "payments.read"},
			false, "default deny", []string{"payments.read"}},
		{"permission, no condition", agent,
			authz.ToolPolicy{Tool: "claims_status", Permission: "claims.read"},
			true, "role:agent grants claims.read", nil},
		{"condition false", agent,
			authz.ToolPolicy{Tool: "payments_lookup", Permission: "payments.read", Condition: cond(false, nil), Source: "args.x == 1"},
			false, "condition of payments_lookup: args.x == 1", []string{"condition does not allow"}},
		{"condition error", agent,
			authz.ToolPolicy{Tool: "payments_lookup", Permission: "payments.read", Condition: cond(true, errors.New("no such key: customer_id")), Source: "args.x == 1"},
			false, "condition of payments_lookup: args.x == 1", []string{"could not be evaluated", "no such key: customer_id"}},
		{"condition true", agent,
			authz.ToolPolicy{Tool: "payments_lookup", Permission: "payments.read", Condition: cond(true, nil), Source: "args.x == 1"},
			true, "role:agent grants payments.read; condition of payments_lookup: args.x == 1", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := ps.AuthorizeTool(context.Background(), tc.p, tc.pol, args)
			if d.Allow != tc.wantAllow || d.Rule != tc.wantRule {
				t.Errorf("AuthorizeTool = %+v; want allow=%v rule %q", d, tc.wantAllow, tc.wantRule)
			}
			for _, s := range tc.wantReason {
				if !strings.Contains(d.Reason+": "+d.Detail, s) {
					t.Errorf("reason %q, detail %q do not mention %q", d.Reason, d.Detail, s)
				}
			}
			// The reason is stored as it is in the audit log: the
			// evaluation error, which may quote values, is only the detail.
			if strings.Contains(d.Reason, "customer_id") {
				t.Errorf("reason %q quotes the evaluation error", d.Reason)
			}
			if tc.wantAllow && d.Reason != "" {
				t.Errorf("allow carries reason %q", d.Reason)
			}
		})
	}
}

func TestPermissions_AuthorizeToolConditionNotEvaluatedWithoutPermission(t *testing.T) {
	called := false
	pol := authz.ToolPolicy{Tool: "t", Permission: "payments.read", Source: "true",
		Condition: func(context.Context, *principal.Principal, map[string]any) (bool, error) {
			called = true
			return true, nil
		}}
	testPerms().AuthorizeTool(context.Background(), &principal.Principal{Roles: []string{"viewer"}}, pol, nil)
	if called {
		t.Error("condition evaluated for a caller without the tool's permission")
	}
}

// The condition as the runtime wires it: a CEL expression over the caller's
// claims and the call's arguments. A missing claim is an evaluation error,
// which must deny.
func TestPermissions_AuthorizeToolWithCELCondition(t *testing.T) {
	const src = `args.customer_id == principal.claims.customer_id || "admin" in principal.roles`
	c, err := condition.Compile(src)
	if err != nil {
		t.Fatal(err)
	}
	info := condition.ToolInfo{Name: "payments_lookup", Permission: "payments.read"}
	pol := authz.ToolPolicy{Tool: "payments_lookup", Permission: "payments.read", Source: src,
		Condition: func(ctx context.Context, p *principal.Principal, args map[string]any) (bool, error) {
			return c.Eval(ctx, p, info, args)
		}}
	ps := testPerms()
	customer := &principal.Principal{Subject: "c", Roles: []string{"customer"}, Claims: map[string]any{"customer_id": "C-100"}}
	noClaim := &principal.Principal{Subject: "n", Roles: []string{"customer"}, Claims: map[string]any{}}
	tests := []struct {
		name string
		p    *principal.Principal
		args map[string]any
		want bool
	}{
		{"own customer", customer, map[string]any{"customer_id": "C-100"}, true},
		{"other customer", customer, map[string]any{"customer_id": "C-200"}, false},
		{"missing claim", noClaim, map[string]any{"customer_id": "C-100"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := ps.AuthorizeTool(context.Background(), tc.p, pol, tc.args)
			if d.Allow != tc.want {
				t.Errorf("AuthorizeTool = %+v; want allow=%v", d, tc.want)
			}
		})
	}
}
