// Package principal defines who is calling: the verified identity that every
// authorization decision, tool call and audit event is made for.
package principal

import (
	"context"
	"slices"
	"strconv"
)

// Method names how a principal was authenticated.
type Method string

// Authentication methods.
const (
	MethodAPIKey Method = "api_key"
	MethodJWT    Method = "jwt"
	MethodMTLS   Method = "mtls"
)

// Principal is a verified caller. It is built only by authenticators and is
// never filled from anything the model or the request body chooses.
type Principal struct {
	Subject string
	Roles   []string
	Scopes  []string
	// Claims are the verified token claims, or the API key's configured attributes.
	Claims map[string]any
	Method Method
	Issuer string
	// CertIdentity is the verified client certificate identity when the
	// request also came over mTLS (recorded even when a token names the subject).
	CertIdentity string
	// Actor is who acts for Subject (an RFC 8693 "act" chain), nearest
	// first; empty when the subject acts itself. Only a JWT verifier sets
	// it, and only for actors its issuer's delegation config lists.
	Actor []Actor
}

// Actor is one party of a delegation chain.
type Actor struct {
	Subject  string
	ClientID string
	// Roles are the most this actor may do for anyone: a delegated call
	// holds only what both the subject's and every actor's roles grant.
	Roles []string
	// Unbounded: the issuer's delegation config gives the subject's grants
	// to its actors' calls (grants: subject); Roles bound nothing.
	Unbounded bool
}

// Delegated reports whether someone acts for the subject.
func (p *Principal) Delegated() bool { return p != nil && len(p.Actor) > 0 }

// Key identifies the principal across authentication methods and issuers:
// the same subject string from another issuer or method is someone else.
// Sessions are owned by it and rate limits count by it. The issuer is
// length-prefixed so no two (method, issuer, subject) share a key.
func (p *Principal) Key() string {
	return string(p.Method) + ":" + strconv.Itoa(len(p.Issuer)) + ":" + p.Issuer + ":" + p.Subject
}

// Clone copies p down to the last nested claim, so the copy shares nothing
// its holder could change: a verifier may return one cached principal for
// every request with a token, and a run's parallel tool calls and audit
// events share one. Clone(nil) is nil.
func (p *Principal) Clone() *Principal {
	if p == nil {
		return nil
	}
	cp := *p
	cp.Roles = slices.Clone(p.Roles)
	cp.Scopes = slices.Clone(p.Scopes)
	if p.Actor != nil {
		cp.Actor = make([]Actor, len(p.Actor))
		for i, a := range p.Actor {
			a.Roles = slices.Clone(a.Roles)
			cp.Actor[i] = a
		}
	}
	if p.Claims != nil {
		cp.Claims = cloneJSON(p.Claims).(map[string]any)
	}
	return &cp
}

// cloneJSON deep-copies a decoded JSON value.
func cloneJSON(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = cloneJSON(e)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i, e := range v {
			s[i] = cloneJSON(e)
		}
		return s
	case []string:
		return slices.Clone(v)
	}
	return v
}

// HasRole reports whether the principal holds role r.
func (p *Principal) HasRole(r string) bool { return p != nil && slices.Contains(p.Roles, r) }

type ctxKey struct{}

// With returns a context carrying p.
func With(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// From returns the principal carried by ctx, or nil.
func From(ctx context.Context) *Principal {
	p, _ := ctx.Value(ctxKey{}).(*Principal)
	return p
}
