package authz_test

import (
	"context"
	"testing"

	"github.com/gatehousehq/gatehouse/internal/authz"
	"github.com/gatehousehq/gatehouse/internal/authz/condition"
	"github.com/gatehousehq/gatehouse/internal/principal"
)

// BenchmarkAuthorizeTool is the policy gate of one tool call: the role
// check, then the tool's CEL condition over the caller and the arguments,
// wired as the runtime wires it.
func BenchmarkAuthorizeTool(b *testing.B) {
	const src = `args.customer_id == principal.claims.customer_id || "admin" in principal.roles`
	env, err := condition.NewEnv()
	if err != nil {
		b.Fatal(err)
	}
	cond, err := env.Compile(src)
	if err != nil {
		b.Fatal(err)
	}
	info := condition.ToolInfo{Name: "payments_lookup", Permission: "payments.read"}
	ps := authz.NewPermissions(map[string][]string{"customer": {"respond", "claims.read", "payments.read"}}, nil)
	p := &principal.Principal{Subject: "customer", Roles: []string{"customer"}, Claims: map[string]any{"customer_id": "C-100"}, Method: principal.MethodAPIKey}
	args := map[string]any{"customer_id": "C-100"}
	for _, tc := range []struct {
		name string
		pol  authz.ToolPolicy
	}{
		{"permission-only", authz.ToolPolicy{Tool: "claims_status", Permission: "claims.read"}},
		{"cel-condition", authz.ToolPolicy{Tool: "payments_lookup", Permission: "payments.read", Source: src,
			Condition: func(ctx context.Context, p *principal.Principal, args map[string]any) (bool, error) {
				return cond.Eval(ctx, p, info, args)
			}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if d := ps.AuthorizeTool(ctx, p, tc.pol, args); !d.Allow {
					b.Fatal(d.Reason)
				}
			}
		})
	}
}
