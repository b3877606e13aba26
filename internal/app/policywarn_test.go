package app

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehousehq/gatehouse/internal/config"
)

func TestPolicyWarnings_NameConstantConditionsUnreachableToolsUnusedPermissions(t *testing.T) {
	cfg := &config.Config{
		Authz: config.Authz{
			Roles:  map[string][]string{"agent": {"respond", "claims.read", "reports.read"}},
			Scopes: map[string][]string{"tickets:write": {"tickets.write"}},
		},
		Tools: map[string]config.Tool{
			"claims_status": {Type: "builtin", Permission: "claims.read", Condition: `1 < 2`},
			"wire_money":    {Type: "builtin", Permission: "payments.write", Approval: &config.Approval{When: `true || false`}},
			"open_ticket":   {Type: "builtin", Permission: "tickets.write", Condition: `args.x == "y"`},
		},
	}
	want := []string{
		`tools.claims_status.condition: "1 < 2" reads nothing of the call (principal, args, tool, now): it decides every call alike`,
		"tools.wire_money: no role or scope grants its permission payments.write: no caller can reach it",
		`tools.wire_money.approval.when: "true || false" reads nothing of the call (principal, args, tool, now): it decides every call alike`,
		"permission reports.read: granted, but no tool, route or pass-through model requires it",
	}
	if diff := cmp.Diff(want, PolicyWarnings(cfg)); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

// TestPolicyWarnings_DevConfigHasNone: the config serve --dev writes is
// the example people copy; it must not teach a mistake.
func TestPolicyWarnings_DevConfigHasNone(t *testing.T) {
	y, err := config.DevYAML(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(y, func(k string) string { return map[string]string{"GATEHOUSE_SELF": "/bin/gatehouse"}[k] })
	if err != nil {
		t.Fatal(err)
	}
	if w := PolicyWarnings(cfg); len(w) != 0 {
		t.Errorf("dev config warnings: %q", w)
	}
}
