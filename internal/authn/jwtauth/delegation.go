package jwtauth

import (
	"errors"
	"fmt"
	"slices"

	"github.com/gatehousehq/gatehouse/internal/authn"

	"github.com/gatehousehq/gatehouse/internal/principal"
)

// maxActDepth bounds how far a nested "act" claim is read, whatever an
// issuer's MaxChain says: a token cannot make the verifier walk for ever.
const maxActDepth = 16

// Delegation says which actors may act for an issuer's subjects (RFC 8693
// "act"). An issuer without it refuses every token carrying "act": an
// actor nobody listed gains nothing by being named.
type Delegation struct {
	// MaxChain is the longest actor chain accepted (default 1: one actor,
	// no nested "act").
	MaxChain int
	// Actors are the parties that may act, keyed by their act "sub" or
	// "client_id". Every actor of a chain must be listed.
	Actors map[string]ActorPolicy
	// RequireAct refuses this issuer's tokens that carry no "act".
	RequireAct bool
	// SubjectGrants: a delegated call holds the subject's grants alone;
	// the actors bound nothing (by default every actor's roles do).
	SubjectGrants bool
}

// ActorPolicy is what one actor may do.
type ActorPolicy struct {
	// Roles are the most the actor may do for anyone: a delegated call
	// holds what both the subject's roles and these grant.
	Roles []string
	// Subjects, when set, are the only subjects the actor may act for.
	Subjects []string
}

func (d *Delegation) setDefaults() error {
	if d.MaxChain == 0 {
		d.MaxChain = 1
	}
	if d.MaxChain < 0 || d.MaxChain > maxActDepth {
		return errors.New("delegation max_chain must be between 1 and 16")
	}
	for name := range d.Actors {
		if name == "" {
			return errors.New("delegation actor with an empty name")
		}
	}
	return nil
}

// actors reads the token's "act" chain, nearest first, and checks it
// against the issuer's delegation: every actor listed and allowed for this
// subject, the chain no longer than MaxChain, and the nearest actor the one
// "may_act" names when the token has it.
func (iss *issuer) actors(claims map[string]any, subject string) ([]principal.Actor, error) {
	raw, ok := claims["act"]
	d := iss.cfg.Delegation
	if !ok {
		if d != nil && d.RequireAct {
			return nil, refused("token without act refused by this issuer")
		}
		return nil, nil
	}
	if d == nil {
		return nil, refused("delegated token from an issuer without delegation")
	}
	var chain []principal.Actor
	for raw != nil {
		if len(chain) == maxActDepth || len(chain) == d.MaxChain {
			return nil, refused("actor chain longer than allowed")
		}
		act, ok := raw.(map[string]any)
		if !ok {
			return nil, invalid("malformed act")
		}
		a, err := d.actor(act, subject)
		if err != nil {
			return nil, err
		}
		chain = append(chain, a)
		raw = act["act"]
	}
	if err := checkMayAct(claims["may_act"], chain[0]); err != nil {
		return nil, err
	}
	return chain, nil
}

// actor judges one member of the chain.
func (d *Delegation) actor(act map[string]any, subject string) (principal.Actor, error) {
	sub, okSub := optString(act, "sub")
	cid, okCID := optString(act, "client_id")
	if !okSub || !okCID || (sub == "" && cid == "") {
		return principal.Actor{}, invalid("malformed act")
	}
	pol, ok := d.Actors[sub]
	if !ok || sub == "" {
		if pol, ok = d.Actors[cid]; !ok || cid == "" {
			return principal.Actor{}, refused("actor not allowed")
		}
	}
	if len(pol.Subjects) > 0 && !slices.Contains(pol.Subjects, subject) {
		return principal.Actor{}, refused("actor not allowed for this subject")
	}
	if d.SubjectGrants {
		return principal.Actor{Subject: sub, ClientID: cid, Unbounded: true}, nil
	}
	return principal.Actor{Subject: sub, ClientID: cid, Roles: slices.Clone(pol.Roles)}, nil
}

// checkMayAct: a token saying who may act for its subject must name the
// nearest actor.
func checkMayAct(raw any, nearest principal.Actor) error {
	if raw == nil {
		return nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return invalid("malformed may_act")
	}
	sub, okSub := optString(m, "sub")
	cid, okCID := optString(m, "client_id")
	if !okSub || !okCID {
		return invalid("malformed may_act")
	}
	if (sub != "" && sub == nearest.Subject) || (cid != "" && cid == nearest.ClientID) {
		return nil
	}
	return refused("actor is not the one may_act names")
}

// optString reads an optional string member: ok is false when it is
// present and not a string.
func optString(m map[string]any, name string) (string, bool) {
	v, present := m[name]
	if !present {
		return "", true
	}
	s, ok := v.(string)
	return s, ok
}

// refused is invalid for a delegation the issuer does not allow.
func refused(reason string) error {
	return fmt.Errorf("%w: %w: %s", authn.ErrInvalidCredentials, authn.ErrDelegationRefused, reason)
}
