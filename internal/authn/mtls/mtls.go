// Package mtls authenticates callers by verified TLS client certificates.
// ServerTLSConfig makes the server ask for (and verify) client certificates
// against a CA bundle; Authenticator maps a verified certificate's identity,
// a URI SAN such as a SPIFFE ID or else the subject CN, to configured roles.
package mtls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/gatehousehq/gatehouse/internal/authn"
	"github.com/gatehousehq/gatehouse/internal/principal"
)

// ServerTLSConfig loads the server certificate and, when clientCAFile is set,
// the CA bundle client certificates must chain to. Client certificates are
// then requested and verified if given (tls.VerifyClientCertIfGiven): a
// request without one may still authenticate another way, one with an
// untrusted or expired certificate fails the handshake. TLS 1.2 is the
// minimum.
func ServerTLSConfig(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load server certificate: %w", err)
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
	}
	if clientCAFile == "" {
		return cfg, nil
	}
	pemBytes, err := os.ReadFile(clientCAFile)
	if err != nil {
		return nil, fmt.Errorf("read client CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, errors.New("read client CA file: no PEM certificates found")
	}
	cfg.ClientCAs = pool
	cfg.ClientAuth = tls.VerifyClientCertIfGiven
	return cfg, nil
}

// Identity maps a certificate identity to roles. Match is compared exactly
// with the identity, except that a Match ending in "/*" matches every
// identity that starts with the part before the "*" (for example
// "spiffe://corp/ns/ops/*" matches "spiffe://corp/ns/ops/sa/bot"). An exact
// match wins over a prefix match; among prefixes, the longest wins.
type Identity struct {
	Match string
	Roles []string
}

// Authenticator turns verified client certificates into principals.
type Authenticator struct {
	exact    map[string]Identity
	prefixes []Identity // Match without the trailing "*", longest first
}

var _ authn.CertAuthenticator = (*Authenticator)(nil)

// New validates identities and returns an Authenticator for them.
func New(identities []Identity) (*Authenticator, error) {
	a := &Authenticator{exact: map[string]Identity{}}
	for _, id := range identities {
		switch {
		case id.Match == "" || id.Match == "/*":
			return nil, errors.New("mtls identity: empty match")
		case strings.HasSuffix(id.Match, "/*"):
			id.Match = strings.TrimSuffix(id.Match, "*")
			a.prefixes = append(a.prefixes, id)
		case strings.Contains(id.Match, "*"):
			return nil, fmt.Errorf("mtls identity %q: only a trailing /* is supported", id.Match)
		default:
			if _, dup := a.exact[id.Match]; dup {
				return nil, fmt.Errorf("mtls identity %q: listed twice", id.Match)
			}
			a.exact[id.Match] = id
		}
	}
	// Longest prefix first, so the most specific rule decides.
	slices.SortStableFunc(a.prefixes, func(x, y Identity) int { return len(y.Match) - len(x.Match) })
	return a, nil
}

// AuthenticateCert implements authn.CertAuthenticator. It reads only
// certificates the TLS stack verified (r.TLS.VerifiedChains); it returns
// (nil, nil) without one, and an error wrapping authn.ErrInvalidCredentials
// for a verified certificate that no identity maps.
func (a *Authenticator) AuthenticateCert(r *http.Request) (*principal.Principal, error) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return nil, nil
	}
	leaf := r.TLS.VerifiedChains[0][0]
	id := CertIdentity(leaf)
	if id == "" {
		return nil, fmt.Errorf("%w: client certificate has no URI SAN or CN", authn.ErrInvalidCredentials)
	}
	m, ok := a.lookup(id)
	if !ok {
		return nil, fmt.Errorf("%w: client certificate identity not mapped", authn.ErrInvalidCredentials)
	}
	return &principal.Principal{
		Subject:      id,
		Roles:        append([]string(nil), m.Roles...),
		Claims:       map[string]any{"cert_identity": id, "cert_serial": leaf.SerialNumber.String()},
		Method:       principal.MethodMTLS,
		Issuer:       leaf.Issuer.String(),
		CertIdentity: id,
	}, nil
}

func (a *Authenticator) lookup(id string) (Identity, bool) {
	if m, ok := a.exact[id]; ok {
		return m, true
	}
	for _, p := range a.prefixes {
		if strings.HasPrefix(id, p.Match) {
			return p, true
		}
	}
	return Identity{}, false
}

// CertIdentity returns a certificate's identity: its first URI SAN (such as
// a SPIFFE ID), else its subject common name, else "". A common name that
// reads as a URI ("scheme:...") is no identity: many CAs take the CN as free
// text, so it could otherwise pass for a URI SAN the CA never vouched for.
func CertIdentity(cert *x509.Certificate) string {
	if len(cert.URIs) > 0 {
		return cert.URIs[0].String()
	}
	cn := cert.Subject.CommonName
	if u, err := url.Parse(cn); err == nil && u.Scheme != "" {
		return ""
	}
	return cn
}
