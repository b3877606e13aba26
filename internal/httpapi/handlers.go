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
		if dry, since, err := dryRunQuery(r); err != nil {
			writeError(w, r, err)
			return
		} else if dry {
			s.reloadDryRun(w, r, since)
			return
		}
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

// defaultDryRunWindow is how far back a dry run replays by default.
const defaultDryRunWindow = 7 * 24 * time.Hour

// dryRunQuery reads dry_run (true or false) and since (a duration).
func dryRunQuery(r *http.Request) (dry bool, since time.Duration, _ error) {
	q := r.URL.Query()
	switch q.Get("dry_run") {
	case "", "false":
		if q.Has("since") {
			return false, 0, errBadRequest("since is only for dry_run=true")
		}
		return false, 0, nil
	case "true":
	default:
		return false, 0, errBadRequest("dry_run must be true or false")
	}
	since = defaultDryRunWindow
	if v := q.Get("since"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return false, 0, errBadRequest("since must be a positive duration, such as 24h")
		}
		since = d
	}
	return true, since, nil
}

// reloadDryRun answers POST /admin/reload?dry_run=true: the policy change
// the config on disk would make, with the recorded decisions it would
// decide otherwise. Nothing is applied or recorded (but the admin's
// access to the route).
func (s *Server) reloadDryRun(w http.ResponseWriter, r *http.Request, since time.Duration) {
	if s.Deps.DryRun == nil {
		writeError(w, r, errBadRequest("this server cannot report a reload's impact"))
		return
	}
	d, err := s.Deps.DryRun(r.Context(), s.runtime(r), since)
	if errors.Is(err, audit.ErrUnavailable) {
		writeError(w, r, err) // the log could not be read: not the config's fault
		return
	}
	if err != nil {
		writeError(w, r, &apiError{Status: http.StatusBadRequest, Code: "invalid_config",
			Detail: "The config on disk is invalid; nothing was applied", Reasons: strings.Split(err.Error(), "\n")})
		return
	}
	respond(w, r, http.StatusOK, map[string]any{"dry_run": true, "version": s.Version(), "report": d})
}
