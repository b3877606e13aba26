package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/authn"
	"github.com/gatehousehq/gatehouse/internal/authz"
	"github.com/gatehousehq/gatehouse/internal/principal"
)

// protect authenticates the caller, checks perm against the caller's own
// roles and scopes, records the decision, applies the rate limit, and only
// then calls h with the principal in the context.
func (s *Server) protect(perm string, h http.Handler) http.Handler { return s.guard(perm, false, h) }

// protectRun is protect for routes that start a run: the allow decision is
// made durable together with the run's start (one write instead of two),
// or before any earlier response.
func (s *Server) protectRun(perm string, h http.Handler) http.Handler { return s.guard(perm, true, h) }

func (s *Server) guard(perm string, deferAllow bool, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt := s.runtime(r)
		info := infoFrom(r.Context())
		p, err := rt.Authn.Authenticate(r)
		if err != nil {
			s.authFailed(w, r, rt, err)
			return
		}
		info.subject, info.authMethod = p.Subject, string(p.Method)
		// The rate limit comes before the durable decision record, so a
		// flood by one caller cannot queue fsyncs.
		if s.overLimit(w, r, rt, p) {
			return
		}
		d := checkAnyOf(rt.Perms, p, perm)
		ev := audit.Event{
			Type: audit.TypeAuthzDecided, RequestID: info.requestID,
			Rule: d.Rule, Reason: d.Reason, Resource: route(r),
			Decision: audit.Deny,
		}.By(p)
		if d.Allow {
			ev.Decision = audit.Allow
		}
		if p.CertIdentity != "" {
			ev.Reason = joinReason(ev.Reason, "client certificate: "+p.CertIdentity)
		}
		if d.Allow && deferAllow {
			info.deferEvent(s.Audit, ev)
		} else if err := s.Audit.Record(r.Context(), ev); err != nil {
			writeError(w, r, err)
			return
		}
		info.sink = s.Audit
		if !d.Allow {
			writeError(w, r, errForbidden)
			return
		}
		ctx := principal.With(r.Context(), p)
		if p.Method == principal.MethodJWT {
			// For token exchange at its issuer only (package callcred).
			if tok, err := authn.BearerToken(r); err == nil {
				ctx = authn.WithBearer(ctx, tok)
			}
		}
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// overLimit answers 429 when p is over its rate limit; refusals are
// recorded through the bounded sink.
func (s *Server) overLimit(w http.ResponseWriter, r *http.Request, rt *Runtime, p *principal.Principal) bool {
	if rt.Limiter == nil {
		return false
	}
	ok, wait, err := rt.Limiter.Take(r.Context(), p.Key())
	if err != nil {
		writeError(w, r, err)
		return true
	}
	if ok {
		return false
	}
	if s.AuthFailures != nil {
		_ = s.AuthFailures(context.WithoutCancel(r.Context()), audit.Event{
			Type: audit.TypeAuthzDecided, RequestID: infoFrom(r.Context()).requestID, Decision: audit.Deny,
			Rule: "rate limit", Reason: "over the caller's rate limit", Resource: route(r),
		}.By(p))
	}
	w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
	writeError(w, r, errRateLimit)
	return true
}

// route is the route a request matched, "METHOD /path/{wildcard}". Every
// protected pattern names its method; a pattern without one gets the
// request's.
func route(r *http.Request) string {
	if strings.Contains(r.Pattern, " ") {
		return r.Pattern
	}
	return r.Method + " " + r.Pattern
}

// failedMethod names the kind of credential that failed, for metrics:
// none when there was none, jwt for a token shaped like one, api_key for
// any other bearer token, mtls when only a client certificate was offered.
func failedMethod(r *http.Request, err error) string {
	if errors.Is(err, authn.ErrNoCredentials) {
		return "none"
	}
	tok, terr := authn.BearerToken(r)
	switch {
	case terr != nil:
		return "mtls"
	case strings.Count(tok, ".") == 2:
		return "jwt"
	}
	return "api_key"
}

func joinReason(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// authFailed answers an authentication failure per SPEC and records it
// through the bounded auth-failure sink. Tokens never reach the event.
func (s *Server) authFailed(w http.ResponseWriter, r *http.Request, rt *Runtime, err error) {
	info := infoFrom(r.Context())
	reason, code := "invalid credentials", "invalid_token"
	switch {
	case errors.Is(err, authn.ErrNoCredentials):
		reason, code = "missing bearer token", "missing_token"
	case errors.Is(err, authn.ErrDelegationRefused):
		reason = "delegation refused by the issuer's delegation config"
	case errors.Is(err, authn.ErrInvalidCredentials):
	default:
		s.log.ErrorContext(r.Context(), "authentication error", "request_id", info.requestID, "error", err.Error())
		reason, code = "authentication unavailable", "unavailable"
	}
	if s.Metrics != nil {
		s.Metrics.AuthFailed(failedMethod(r, err), code)
	}
	if s.AuthFailures != nil {
		_ = s.AuthFailures(context.WithoutCancel(r.Context()), audit.Event{
			Type: audit.TypeAuthFailed, RequestID: info.requestID, Decision: audit.Deny,
			Reason: reason, Resource: route(r), // the pattern: a path is the caller's to size
		})
	}
	realm := `Bearer realm="gatehouse"`
	if rt.ResourceMetadataURL != "" {
		realm += fmt.Sprintf(`, resource_metadata=%q`, rt.ResourceMetadataURL)
	}
	switch {
	case errors.Is(err, authn.ErrNoCredentials):
		w.Header().Set("WWW-Authenticate", realm)
		writeError(w, r, err)
	case errors.Is(err, authn.ErrInvalidCredentials):
		// The OpenAI-compatible routes answer 401 whatever
		// auth.invalid_token_status says: OpenAI does, and SDK users catch
		// AuthenticationError for a bad key. The tutorial's 403 holds on its
		// own routes (/chat and the rest).
		if rt.InvalidTokenStatus == http.StatusUnauthorized || info.openAI {
			w.Header().Set("WWW-Authenticate", realm+`, error="invalid_token"`)
			writeError(w, r, &apiError{Status: http.StatusUnauthorized, Code: "invalid_token", Detail: "Invalid token"})
			return
		}
		writeError(w, r, err)
	default:
		writeError(w, r, errAuthDown)
	}
}

// checkAnyOf decides a route's permission, "a|b" meaning either: the first
// granted, else the last refusal.
func checkAnyOf(ps *authz.Permissions, p *principal.Principal, perms string) authz.Decision {
	var d authz.Decision
	for _, perm := range strings.Split(perms, "|") {
		if d = ps.Check(p, perm); d.Allow {
			return d
		}
	}
	return d
}
