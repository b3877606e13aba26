package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/principal"
	"github.com/gatehousehq/gatehouse/internal/session"
)

func handleHealth(w http.ResponseWriter, r *http.Request) {
	respond(w, r, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) handleReady() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.Ready != nil {
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			defer cancel()
			if err := s.Ready(ctx); err != nil {
				s.log.WarnContext(r.Context(), "not ready", "error", err.Error())
				writeError(w, r, errNotReady)
				return
			}
		}
		if s.MCPStarting != nil {
			if names := s.MCPStarting(); len(names) > 0 {
				writeError(w, r, errMCPStarting(names))
				return
			}
		}
		body := map[string]any{"status": "ready", "config_version": s.Version()}
		if s.MCPStatus != nil {
			body["mcp_servers"] = s.MCPStatus()
		}
		if s.WitnessStatus != nil {
			body["audit_witness"] = s.WitnessStatus(r.Context())
		}
		respond(w, r, http.StatusOK, body)
	})
}

func (s *Server) handleGetSession() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := principal.From(r.Context())
		sess, err := s.chat(r).Session(r.Context(), p, infoFrom(r.Context()).requestID, r.PathValue("id"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		if sess.Messages == nil {
			sess.Messages = []session.Message{}
		}
		sess.Subject = p.Subject
		respond(w, r, http.StatusOK, sess)
	})
}

func (s *Server) handleReload() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		by := audit.Event{RequestID: infoFrom(r.Context()).requestID}.By(principal.From(r.Context()))
		version, err := s.Reload(r.Context(), by)
		if errors.Is(err, ErrReloadNotRecorded) {
			writeError(w, r, err)
			return
		}
		if err != nil {
			writeError(w, r, &apiError{Status: http.StatusBadRequest, Code: "invalid_config",
				Detail: "The new config is invalid; the old one keeps serving", Reasons: strings.Split(err.Error(), "\n")})
			return
		}
		respond(w, r, http.StatusOK, map[string]any{"reloaded": true, "version": version})
	})
}
