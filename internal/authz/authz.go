// Package authz decides what a principal may do: roles and scopes map to
// permissions, endpoints require permissions, and tools carry a policy
// (permission plus optional condition) checked when tools are shown and again
// when each call is about to run. Everything is denied unless a rule allows it.
package authz

import (
	"fmt"
	"slices"

	"github.com/gatehousehq/gatehouse/internal/principal"
)

// Decision is the outcome of an authorization check.
type Decision struct {
	Allow bool
	// Rule names what decided, e.g. "role:agent grants respond" or "default deny".
	Rule string
	// Reason is a human sentence safe to show the caller. It never quotes
	// the call's values: the audit log stores it as it is.
	Reason string
	// Detail, when set, says more and may quote the call's values (a
	// condition's evaluation error); the audit log stores it as content,
	// per audit.content.
	Detail string
}

// Permissions maps roles and OAuth scopes to permissions.
type Permissions struct {
	// roles and scopes map a role or scope to the permissions it grants,
	// each with the rule naming the grant ("role:agent grants respond"),
	// made once here rather than on every check.
	roles  map[string]map[string]string
	scopes map[string]map[string]string
}

// NewPermissions builds the role and scope maps.
func NewPermissions(roles, scopes map[string][]string) *Permissions {
	p := &Permissions{roles: grants("role:", roles), scopes: grants("scope:", scopes)}
	return p
}

func grants(kind string, m map[string][]string) map[string]map[string]string {
	out := make(map[string]map[string]string, len(m))
	for k, perms := range m {
		set := make(map[string]string, len(perms))
		for _, p := range perms {
			set[p] = kind + k + " grants " + p
		}
		out[k] = set
	}
	return out
}

// Check decides whether p holds permission perm through one of its own
// roles or scopes. A delegated principal holds perm only when every actor
// of its chain also holds it through one of the actor's roles: a delegated
// caller never gains what the subject lacks, nor an actor what it lacks.
func (ps *Permissions) Check(p *principal.Principal, perm string) Decision {
	if p == nil {
		return Decision{Rule: "default deny", Reason: "no authenticated caller"}
	}
	d := ps.checkSubject(p, perm)
	if !d.Allow {
		return d
	}
	for _, a := range p.Actor {
		if a.Unbounded {
			continue
		}
		r, ok := ps.actorGrants(a, perm)
		if !ok {
			return Decision{Rule: "delegation: actor " + actorName(a) + " lacks " + perm,
				Reason: fmt.Sprintf("the actor acting for the caller may not %s", perm)}
		}
		d.Rule += fmt.Sprintf("; actor %s role:%s grants %s", actorName(a), r, perm)
	}
	return d
}

func (ps *Permissions) checkSubject(p *principal.Principal, perm string) Decision {
	for _, r := range p.Roles {
		if rule := ps.roles[r][perm]; rule != "" {
			return Decision{Allow: true, Rule: rule}
		}
	}
	for _, s := range p.Scopes {
		if rule := ps.scopes[s][perm]; rule != "" {
			return Decision{Allow: true, Rule: rule}
		}
	}
	return Decision{Rule: "default deny", Reason: "no role or scope of the caller grants " + perm}
}

// actorGrants names the actor's role granting perm.
func (ps *Permissions) actorGrants(a principal.Actor, perm string) (string, bool) {
	for _, r := range a.Roles {
		if ps.roles[r][perm] != "" {
			return r, true
		}
	}
	return "", false
}

func actorName(a principal.Actor) string {
	if a.Subject != "" {
		return a.Subject
	}
	return "client:" + a.ClientID
}

// Has reports whether p holds perm: Check's Allow, without naming the rule.
func (ps *Permissions) Has(p *principal.Principal, perm string) bool {
	if p == nil || !ps.subjectHas(p, perm) {
		return false
	}
	for _, a := range p.Actor {
		if a.Unbounded {
			continue
		}
		if _, ok := ps.actorGrants(a, perm); !ok {
			return false
		}
	}
	return true
}

func (ps *Permissions) subjectHas(p *principal.Principal, perm string) bool {
	for _, r := range p.Roles {
		if ps.roles[r][perm] != "" {
			return true
		}
	}
	for _, s := range p.Scopes {
		if ps.scopes[s][perm] != "" {
			return true
		}
	}
	return false
}

// Granted lists the permissions p holds, sorted; none for a nil principal,
// as Check denies one.
func (ps *Permissions) Granted(p *principal.Principal) []string {
	if p == nil {
		return nil
	}
	var out []string
	add := func(set map[string]string) {
		for perm := range set {
			if !slices.Contains(out, perm) && ps.Has(p, perm) {
				out = append(out, perm)
			}
		}
	}
	for _, r := range p.Roles {
		add(ps.roles[r])
	}
	for _, s := range p.Scopes {
		add(ps.scopes[s])
	}
	slices.Sort(out)
	return out
}
