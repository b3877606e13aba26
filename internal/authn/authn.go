// Package authn turns a request's credentials into a verified principal.
// Authenticators form a chain; each handles the credentials it recognises.
package authn

import (
	"context"
	"errors"
	"net/http"

	"github.com/gatehousehq/gatehouse/internal/principal"
)

// Sentinel results of authentication. They describe the caller's credentials,
// not technical faults; a technical fault is any other error.
var (
	// ErrNoCredentials: the request carries no usable bearer token (401).
	ErrNoCredentials = errors.New("missing bearer token")
	// ErrInvalidCredentials: credentials were presented and failed validation (403/401).
	ErrInvalidCredentials = errors.New("invalid token")
	// ErrNotMine: this authenticator does not handle this kind of token; the chain tries the next.
	ErrNotMine = errors.New("token not handled by this authenticator")
	// ErrDelegationRefused is wrapped with ErrInvalidCredentials for a
	// token whose actor chain (RFC 8693 act) its issuer does not allow, so
	// the refusal is recorded as such.
	ErrDelegationRefused = errors.New("delegation refused")
)

// TokenVerifier verifies a bearer token. It returns ErrNotMine when the token
// is not of its kind, an error wrapping ErrInvalidCredentials when it is and
// fails validation, and any other error for a technical failure. The
// principal may be shared (a key's own, a cache's): Chain hands each request
// its own copy.
type TokenVerifier interface {
	VerifyToken(ctx context.Context, token string) (*principal.Principal, error)
}

// CertAuthenticator turns a verified client certificate into a principal.
// It returns (nil, nil) when the request carries no client certificate.
type CertAuthenticator interface {
	AuthenticateCert(r *http.Request) (*principal.Principal, error)
}

type bearerKey struct{}

// WithBearer returns ctx carrying the caller's verified bearer token. Only
// token exchange reads it, to send it to the identity provider that
// issued it; nothing forwards it to a tool.
func WithBearer(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, bearerKey{}, token)
}

// BearerFrom returns the caller's verified bearer token in ctx, or "".
func BearerFrom(ctx context.Context) string {
	s, _ := ctx.Value(bearerKey{}).(string)
	return s
}
