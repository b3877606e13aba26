package policytest

import (
	"maps"
	"slices"

	"github.com/gatehousehq/gatehouse/internal/authz"
)

// Diff is the impact of replacing one policy with another: the role × tool
// cells and the conditions that change, and (when a log was given) the
// recorded decisions whose verdict would change.
type Diff struct {
	Cells      []CellChange      `json:"cells"`
	Conditions []ConditionChange `json:"conditions"`
	Replay     *Replay           `json:"replay,omitempty"`
}

// CellChange is one role's standing for one tool, before and after:
// allowed | conditional | denied, "+ approval" when an allowed call may
// wait for a person, absent when the tool is not configured.
type CellChange struct {
	Role string `json:"role"`
	Tool string `json:"tool"`
	From string `json:"from"`
	To   string `json:"to"`
}

// ConditionChange is a tool's condition or approval when, before and after
// ("" for none).
type ConditionChange struct {
	Key  string `json:"key"` // tools.<name>.condition | tools.<name>.approval.when
	From string `json:"from"`
	To   string `json:"to"`
}

// Static compares the two policies' matrices and conditions.
func Static(from, to Policy) *Diff {
	d := &Diff{Cells: []CellChange{}, Conditions: []ConditionChange{}}
	roles := union(from.Gate.Perms.Roles(), to.Gate.Perms.Roles())
	tools := union(slices.Collect(maps.Keys(from.Tools)), slices.Collect(maps.Keys(to.Tools)))
	for _, role := range roles {
		for _, tool := range tools {
			a, b := standing(from, role, tool), standing(to, role, tool)
			if a != b {
				d.Cells = append(d.Cells, CellChange{Role: role, Tool: tool, From: a, To: b})
			}
		}
	}
	for _, tool := range tools {
		for _, k := range []struct {
			key string
			src func(authz.ToolPolicy) string
		}{
			{"condition", func(p authz.ToolPolicy) string { return p.Source }},
			{"approval.when", approvalSource},
		} {
			a, b := source(from, tool, k.src), source(to, tool, k.src)
			if a != b {
				d.Conditions = append(d.Conditions, ConditionChange{Key: "tools." + tool + "." + k.key, From: a, To: b})
			}
		}
	}
	return d
}

// approvalSource names a tool's approval rule: its when, "always" for an
// approval without one, "" for none.
func approvalSource(p authz.ToolPolicy) string {
	switch {
	case p.Approval == nil:
		return ""
	case p.Approval.WhenSource == "":
		return "always"
	}
	return p.Approval.WhenSource
}

func source(pol Policy, tool string, src func(authz.ToolPolicy) string) string {
	t := pol.Tools[tool]
	if t == nil {
		return ""
	}
	return src(t.Policy)
}

// standing is authz's Standing of role for tool, as a cell shows it.
func standing(pol Policy, role, tool string) string {
	t := pol.Tools[tool]
	if t == nil {
		return "absent"
	}
	c := pol.Gate.Perms.Standing(role, t.Policy)
	s := string(c.Standing)
	if c.Approval != nil {
		s += " + approval"
	}
	return s
}

func union(a, b []string) []string {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}
