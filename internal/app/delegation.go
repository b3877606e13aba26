package app

import (
	"github.com/gatehousehq/gatehouse/internal/authn/jwtauth"
	"github.com/gatehousehq/gatehouse/internal/config"
)

// delegation is an issuer's delegation config as the verifier takes it.
func delegation(d *config.Delegation) *jwtauth.Delegation {
	if d == nil {
		return nil
	}
	out := &jwtauth.Delegation{MaxChain: d.MaxChain, RequireAct: d.RequireAct, Actors: map[string]jwtauth.ActorPolicy{}}
	for name, a := range d.Actors {
		out.Actors[name] = jwtauth.ActorPolicy{Roles: a.Roles, Subjects: a.Subjects}
	}
	return out
}
