package httpapi

import (
	"net/http"

	"github.com/gatehousehq/gatehouse/internal/authn/jwtauth"
)

// Handler returns the API's routes, all wrapped by the base middleware.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", handleHealth)
	mux.Handle("GET /ready", s.handleReady())
	mux.Handle("POST /chat", s.protectRun("respond", s.handleChat(true)))
	mux.Handle("POST /v1/chat", s.protectRun("respond", s.handleChat(false)))
	mux.Handle("GET /v1/models", openAIRoute(s.protect("respond", s.handleModels())))
	mux.Handle("POST /v1/chat/completions", openAIRoute(s.protectRun("respond", s.handleCompletions())))
	mux.Handle("GET /v1/sessions/{id}", s.protect("read", s.handleGetSession()))
	mux.Handle("POST /admin/reload", s.protect("admin", s.handleReload()))
	mux.HandleFunc("GET "+jwtauth.ProtectedResourceMetadataPath, func(w http.ResponseWriter, r *http.Request) {
		if h := s.runtime(r).ResourceMetadata; h != nil {
			h.ServeHTTP(w, r)
			return
		}
		writeError(w, r, errNotFound)
	})
	for pattern, h := range s.Extra {
		mux.Handle(pattern, h)
	}
	for _, pr := range s.protected {
		mux.Handle(pr.pattern, s.protect(pr.perm, pr.h))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { writeError(w, r, errNotFound) })
	return s.base(mux)
}

type protectedRoute struct {
	pattern, perm string
	h             http.Handler
}

// HandleProtected adds a route behind authentication and permission perm.
// Call it before Handler.
func (s *Server) HandleProtected(pattern, perm string, h http.Handler) {
	s.protected = append(s.protected, protectedRoute{pattern, perm, h})
}
