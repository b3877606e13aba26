package httpapi

import (
	"net/http"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/authn/jwtauth"
)

// Handler returns every route of the API, all wrapped by the base
// middleware. This is the one place routes are registered: each handler is
// made from only what it needs, and each protected route names its
// permission here.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	s.routes(mux)
	return s.base(mux)
}

// registrar is what routes registers on: the ServeMux, or in tests a
// recorder of the patterns (each must be in openapi.json).
type registrar interface {
	Handle(pattern string, h http.Handler)
	HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request))
}

func (s *Server) routes(mux registrar) {
	mux.HandleFunc("GET /health", handleHealth)
	mux.Handle("GET /openapi.json", serveJSON(openAPIDocument))
	mux.Handle("GET /ready", s.handleReady())
	mux.Handle("POST /chat", s.protectRun("respond", s.handleChat(true)))
	mux.Handle("POST /v1/chat", s.protectRun("respond", s.handleChat(false)))
	mux.Handle("GET /v1/models", openAIRoute(s.protect("respond", s.handleModels())))
	mux.Handle("POST /v1/chat/completions", openAIRoute(s.protectRun("respond", s.handleCompletions())))
	mux.Handle("POST /v1/responses", openAIRoute(s.protectRun("respond", s.handleResponses())))
	mux.Handle("GET /v1/responses/{id}", openAIRoute(s.protect("respond", s.handleGetResponse())))
	mux.Handle("DELETE /v1/responses/{id}", openAIRoute(s.protect("respond", s.handleDeleteResponse())))
	mux.Handle("GET /v1/sessions/{id}", s.protect("read", s.handleGetSession()))
	mux.Handle("GET /v1/runs/{id}", s.protect("respond", s.handleGetRun()))
	mux.Handle("GET /v1/approvals", s.protect("read", s.handleListApprovals()))
	mux.Handle("POST /v1/approvals/{id}", s.protect("read", s.handleDecide()))
	mcp := s.protect(mcpPermission, s.handleMCP())
	mux.Handle("POST /mcp", mcp)
	mux.Handle("GET /mcp", mcp)
	mux.Handle("DELETE /mcp", mcp)
	mux.Handle("POST /admin/reload", s.protect("admin", s.handleReload()))
	if s.AuditLog != nil {
		mux.Handle("GET /admin/audit", s.protect("audit.read", AuditList(s.AuditLog)))
		mux.Handle("GET /admin/audit/verify", s.protect("audit.read", AuditVerify(s.AuditLog, s.CheckpointKey)))
	}
	if ts, ok := s.AuditLog.(audit.TreeStore); ok {
		mux.Handle("GET /audit/checkpoint", AuditCheckpoint(ts))
		mux.Handle("GET /v1/audit/proof/{event_id}", s.protect("respond|audit.read", s.AuditProof(ts)))
	}
	mux.HandleFunc("GET "+jwtauth.ProtectedResourceMetadataPath, func(w http.ResponseWriter, r *http.Request) {
		if h := s.runtime(r).ResourceMetadata; h != nil {
			h.ServeHTTP(w, r)
			return
		}
		writeError(w, r, errNotFound)
	})
	if s.MetricsHandler != nil {
		mux.Handle("GET /metrics", s.protect("metrics", s.MetricsHandler))
	}
	s.consoleRoutes(mux)
	mux.HandleFunc("GET /.well-known/jwks.json", s.handleJWKS)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { writeError(w, r, errNotFound) })
	// Under /v1/, a route that does not exist answers in OpenAI's shape:
	// the SDKs pointed here show its code and message.
	mux.Handle("/v1/", openAIRoute(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, &apiError{Status: http.StatusNotFound, Code: "not_found",
			Detail: "No route " + r.Method + " " + quoteInput(r.URL.Path) + " (gatehouse serves /v1/models, /v1/chat/completions and /v1/responses)"})
	})))
}

// serveJSON serves a fixed JSON document.
func serveJSON(doc []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	})
}

// RoutePermissions are the permissions the routes above (and the console's)
// require, for config check's warning about a permission nothing uses. A
// test reads the protect calls of this package and fails when they drift.
var RoutePermissions = []string{"respond", "read", "admin", "audit.read", "metrics"}
