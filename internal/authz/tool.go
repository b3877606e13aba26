package authz

import (
	"context"
	"fmt"

	"github.com/gatehousehq/gatehouse/internal/principal"
)

// Condition evaluates a tool's condition for a call. It returns false, or an
// error, to deny; an evaluation error never allows.
type Condition func(ctx context.Context, p *principal.Principal, args map[string]any) (bool, error)

// ToolPolicy is what a tool requires of its caller.
type ToolPolicy struct {
	Tool       string
	Permission string
	// Condition is nil when the tool has none; Source is its text for rules.
	Condition Condition
	Source    string
	// Approval, when set, holds allowed calls for a person's approval.
	Approval *ApprovalRule
	// ClaimsRead are the claims Condition and Approval.When read by name;
	// AllClaims, that they read claims in other ways too. The gate records
	// these with each decision (as content), so it can be decided again
	// under another policy (policy diff).
	ClaimsRead []string
	AllClaims  bool
}

// Visible reports whether a tool is shown to p: p holds its permission.
// Conditions need a call's arguments and are checked at call time.
func (ps *Permissions) Visible(p *principal.Principal, pol ToolPolicy) bool {
	return ps.Has(p, pol.Permission)
}

// AuthorizeTool decides one tool call with its validated arguments.
func (ps *Permissions) AuthorizeTool(ctx context.Context, p *principal.Principal, pol ToolPolicy, args map[string]any) Decision {
	d := ps.Check(p, pol.Permission)
	if !d.Allow {
		d.Reason = fmt.Sprintf("tool %s requires permission %s, which the caller does not have", pol.Tool, pol.Permission)
		return d
	}
	if pol.Condition == nil {
		return d
	}
	ok, err := pol.Condition(ctx, p, args)
	if err != nil {
		return Decision{Rule: conditionRule(pol), Reason: "the tool's condition could not be evaluated for this call", Detail: err.Error()}
	}
	if !ok {
		return Decision{Rule: conditionRule(pol), Reason: "the tool's condition does not allow this call"}
	}
	return Decision{Allow: true, Rule: d.Rule + "; condition of " + pol.Tool + ": " + pol.Source}
}

// conditionRule names the tool's condition as the rule that decided.
func conditionRule(pol ToolPolicy) string {
	return "condition of " + pol.Tool + ": " + pol.Source
}
