package authz

import (
	"maps"
	"slices"

	"github.com/gatehousehq/gatehouse/internal/principal"
)

// Standing is what a role may do with a tool, before any call's arguments
// are known.
type Standing string

// Standings, from most to least permissive.
const (
	// StandingAllowed: the role grants the tool's permission and the tool
	// has no condition.
	StandingAllowed Standing = "allowed"
	// StandingConditional: the role grants the permission; each call must
	// also pass the tool's condition.
	StandingConditional Standing = "conditional"
	// StandingDenied: the role does not grant the permission.
	StandingDenied Standing = "denied"
)

// Cell is one role's standing for one tool and the rule behind it.
type Cell struct {
	Role      string   `json:"role"`
	Tool      string   `json:"tool"`
	Standing  Standing `json:"standing"`
	Rule      string   `json:"rule"`
	Condition string   `json:"condition,omitempty"`
	// Approval is set when an allowed call may still wait for a person:
	// the approval's when (empty: every call) and approver roles.
	Approval *CellApproval `json:"approval,omitempty"`
}

// CellApproval is a tool's approval rule as the matrix shows it.
type CellApproval struct {
	When      string   `json:"when,omitempty"`
	Approvers []string `json:"approvers"`
}

// Roles lists the configured roles, sorted.
func (ps *Permissions) Roles() []string {
	return slices.Sorted(maps.Keys(ps.roles))
}

// Standing judges a principal holding only role against pol with Check,
// the same permission check AuthorizeTool starts with: a condition cannot
// be judged without a call's arguments, so a granted tool with one is
// conditional.
func (ps *Permissions) Standing(role string, pol ToolPolicy) Cell {
	c := Cell{Role: role, Tool: pol.Tool, Condition: pol.Source}
	d := ps.Check(&principal.Principal{Roles: []string{role}}, pol.Permission)
	c.Rule = d.Rule
	switch {
	case !d.Allow:
		c.Standing = StandingDenied
	case pol.Condition != nil:
		c.Standing = StandingConditional
	default:
		c.Standing = StandingAllowed
	}
	if d.Allow && pol.Approval != nil {
		c.Approval = &CellApproval{When: pol.Approval.WhenSource, Approvers: pol.Approval.Approvers}
	}
	return c
}

// Grants lists the rules that grant perm, as Check names them
// ("role:admin grants payments.read", "scope:... grants ..."), sorted.
func (ps *Permissions) Grants(perm string) []string {
	var out []string
	for _, r := range ps.Roles() {
		if ps.roles[r][perm] != "" {
			out = append(out, "role:"+r+" grants "+perm)
		}
	}
	for _, s := range slices.Sorted(maps.Keys(ps.scopes)) {
		if ps.scopes[s][perm] != "" {
			out = append(out, "scope:"+s+" grants "+perm)
		}
	}
	return out
}
