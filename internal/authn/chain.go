package authn

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gatehousehq/gatehouse/internal/principal"
)

// maxTokenBytes bounds a bearer token before any verifier sees it.
const maxTokenBytes = 8 << 10

// Chain authenticates a request: an optional client certificate, then the
// bearer token through each verifier in order.
type Chain struct {
	Verifiers []TokenVerifier
	Cert      CertAuthenticator // nil when mTLS is off
}

// ErrSeveralAuthorizations is wrapped (with ErrInvalidCredentials) for a
// request with more than one Authorization header: which one counts is
// ambiguous (a proxy in front may have read another), so none does.
var ErrSeveralAuthorizations = errors.New("several Authorization headers")

// BearerToken extracts the token of an "Authorization: Bearer <token>" header.
func BearerToken(r *http.Request) (string, error) {
	vals := r.Header.Values("Authorization")
	if len(vals) > 1 {
		return "", fmt.Errorf("%w: %w", ErrInvalidCredentials, ErrSeveralAuthorizations)
	}
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", ErrNoCredentials
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", ErrNoCredentials
	}
	return tok, nil
}

// Authenticate returns the request's principal. ErrNoCredentials and
// ErrInvalidCredentials describe the caller; any other error is technical.
// With both a client certificate and a token, both must be valid; the
// token's subject is the principal and the certificate identity is recorded.
func (c *Chain) Authenticate(r *http.Request) (*principal.Principal, error) {
	var cert *principal.Principal
	if c.Cert != nil {
		p, err := c.Cert.AuthenticateCert(r)
		if err != nil {
			return nil, err
		}
		cert = p
	}
	tok, err := BearerToken(r)
	if err != nil {
		if cert != nil && errors.Is(err, ErrNoCredentials) && r.Header.Get("Authorization") == "" {
			return cert, nil
		}
		return nil, err
	}
	p, err := c.verify(r.Context(), tok)
	if err != nil {
		return nil, err
	}
	if cert != nil {
		p.CertIdentity = cert.Subject
	}
	return p, nil
}

func (c *Chain) verify(ctx context.Context, tok string) (*principal.Principal, error) {
	if len(tok) > maxTokenBytes {
		return nil, fmt.Errorf("%w: token too large", ErrInvalidCredentials)
	}
	for _, v := range c.Verifiers {
		p, err := v.VerifyToken(ctx, tok)
		if errors.Is(err, ErrNotMine) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return p.Clone(), nil
	}
	return nil, ErrInvalidCredentials
}
