package policytest

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/gatehousehq/gatehouse/internal/gate"
	"github.com/gatehousehq/gatehouse/internal/principal"
)

// Coverage is what of a policy a run exercised: each tool, each grant of a
// tool's permission by a role or scope, and each condition (a tool's
// condition, an approval's when) seen true and seen false.
type Coverage struct {
	Tools      []Covered
	Grants     []Covered
	Conditions []ConditionCoverage
}

// Covered is one tool or grant ("role:admin grants payments.read").
type Covered struct {
	Name    string
	Covered bool
}

// ConditionCoverage is one condition and the values cases saw it take.
type ConditionCoverage struct {
	Key         string // tools.<name>.condition | tools.<name>.approval.when
	Source      string
	True, False bool
}

// Percent is the share of items covered: tools, grants, and each
// condition's two outcomes.
func (c Coverage) Percent() float64 {
	total, got := 0, 0
	for _, l := range [][]Covered{c.Tools, c.Grants} {
		for _, it := range l {
			total++
			if it.Covered {
				got++
			}
		}
	}
	for _, cc := range c.Conditions {
		total += 2
		for _, b := range []bool{cc.True, cc.False} {
			if b {
				got++
			}
		}
	}
	if total == 0 {
		return 100
	}
	return 100 * float64(got) / float64(total)
}

// Missing names what no case exercised.
func (c Coverage) Missing() []string {
	var out []string
	for _, it := range c.Tools {
		if !it.Covered {
			out = append(out, "tool "+it.Name+": no case")
		}
	}
	for _, it := range c.Grants {
		if !it.Covered {
			out = append(out, it.Name+": no case relies on it")
		}
	}
	for _, cc := range c.Conditions {
		if !cc.True {
			out = append(out, fmt.Sprintf("%s '%s': never seen true", cc.Key, cc.Source))
		}
		if !cc.False {
			out = append(out, fmt.Sprintf("%s '%s': never seen false", cc.Key, cc.Source))
		}
	}
	return out
}

// Line is the coverage in one line.
func (c Coverage) Line() string {
	count := func(l []Covered) string {
		n := 0
		for _, it := range l {
			if it.Covered {
				n++
			}
		}
		return fmt.Sprintf("%d/%d", n, len(l))
	}
	seen := 0
	for _, cc := range c.Conditions {
		if cc.True {
			seen++
		}
		if cc.False {
			seen++
		}
	}
	return fmt.Sprintf("coverage %.1f%%: tools %s, role and scope grants %s, condition outcomes %d/%d",
		c.Percent(), count(c.Tools), count(c.Grants), seen, 2*len(c.Conditions))
}

// coverage accumulates a run's Coverage.
type coverage struct {
	tools, grants map[string]bool
	conds         map[string]*ConditionCoverage
	pol           Policy
}

func newCoverage(pol Policy) *coverage {
	c := &coverage{tools: map[string]bool{}, grants: map[string]bool{}, conds: map[string]*ConditionCoverage{}, pol: pol}
	perms := map[string]bool{}
	for name, t := range pol.Tools {
		c.tools[name] = false
		perms[t.Policy.Permission] = true
		if t.Policy.Condition != nil {
			c.conds[condKey(name)] = &ConditionCoverage{Key: condKey(name), Source: t.Policy.Source}
		}
		if a := t.Policy.Approval; a != nil && a.When != nil {
			c.conds[whenKey(name)] = &ConditionCoverage{Key: whenKey(name), Source: a.WhenSource}
		}
	}
	// Every role and scope granting a tool's permission: the rule the gate
	// names when that grant lets a call through.
	for perm := range perms {
		for _, g := range pol.Gate.Perms.Grants(perm) {
			c.grants[g] = false
		}
	}
	return c
}

func condKey(tool string) string { return "tools." + tool + ".condition" }
func whenKey(tool string) string { return "tools." + tool + ".approval.when" }

func (c *coverage) sawTool(name string) { c.tools[name] = true }

// sawGrant marks the grant that gives p the tool's permission, as the
// permission check names it.
func (c *coverage) sawGrant(pol Policy, p *principal.Principal, tool string) {
	d := pol.Gate.Perms.Check(p, pol.Tools[tool].Policy.Permission)
	if d.Allow {
		c.grants[d.Rule] = true
	}
}

// sawDecision reads the conditions' values off the gate's decision: the
// rule names the tool's condition when it decided, and a held call means
// the approval's when held.
func (c *coverage) sawDecision(tool string, d gate.Decision) {
	pol := c.pol.Tools[tool].Policy
	rule := d.Rule.Rule
	if cc := c.conds[condKey(tool)]; cc != nil && strings.Contains(rule, "condition of "+tool+":") {
		if d.Rule.Allow {
			cc.True = true
		} else {
			cc.False = true
		}
	}
	if cc := c.conds[whenKey(tool)]; cc != nil && pol.Approval != nil {
		switch d.Verdict {
		case gate.Hold:
			cc.True = true
		case gate.Allow:
			cc.False = true
		}
	}
}

func (c *coverage) summary() Coverage {
	var out Coverage
	for _, name := range slices.Sorted(maps.Keys(c.tools)) {
		out.Tools = append(out.Tools, Covered{name, c.tools[name]})
	}
	for _, name := range slices.Sorted(maps.Keys(c.grants)) {
		out.Grants = append(out.Grants, Covered{name, c.grants[name]})
	}
	for _, key := range slices.Sorted(maps.Keys(c.conds)) {
		out.Conditions = append(out.Conditions, *c.conds[key])
	}
	return out
}
