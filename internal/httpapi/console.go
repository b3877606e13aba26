package httpapi

import (
	"net/http"

	"github.com/gatehousehq/gatehouse/internal/console"
	"github.com/gatehousehq/gatehouse/internal/principal"
)

// consoleRoutes adds the web console and what it asks the server besides
// the API: who the signed-in caller is, and the policy view.
func (s *Server) consoleRoutes(mux registrar) {
	mux.Handle("GET "+console.Prefix, console.Handler(func(r *http.Request) console.OIDC { return s.runtime(r).ConsoleOIDC }))
	mux.Handle("GET /console", http.RedirectHandler(console.Prefix, http.StatusMovedPermanently))
	mux.Handle("GET /console/api/me", s.authenticated(s.handleMe()))
	mux.Handle("GET /admin/authz/matrix", s.protect("admin", s.handleMatrix()))
	mux.Handle("POST /admin/authz/explain", s.protect("admin", s.handleExplain()))
}

// authenticated serves h to any authenticated caller within its rate
// limit: the route shows the caller only what the caller already is.
func (s *Server) authenticated(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt := s.runtime(r)
		p, err := rt.Authn.Authenticate(r)
		if err != nil {
			s.authFailed(w, r, rt, err)
			return
		}
		info := infoFrom(r.Context())
		info.subject, info.authMethod = p.Subject, string(p.Method)
		if s.overLimit(w, r, rt, p) {
			return
		}
		h.ServeHTTP(w, r.WithContext(principal.With(r.Context(), p)))
	})
}

type meResponse struct {
	Subject     string   `json:"subject"`
	Method      string   `json:"method"`
	Issuer      string   `json:"issuer,omitempty"`
	Roles       []string `json:"roles"`
	Permissions []string `json:"permissions"`
}

// handleMe serves GET /console/api/me: the caller and the permissions its
// roles and scopes grant, so the console shows only the pages it may use
// (the API still checks every call).
func (s *Server) handleMe() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := principal.From(r.Context())
		res := meResponse{Subject: p.Subject, Method: string(p.Method), Issuer: p.Issuer,
			Roles: p.Roles, Permissions: s.runtime(r).Perms.Granted(p)}
		if res.Roles == nil {
			res.Roles = []string{}
		}
		if res.Permissions == nil {
			res.Permissions = []string{}
		}
		respond(w, r, http.StatusOK, res)
	})
}
