package httpapi

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/principal"
)

// AuditCheckpoint serves GET /audit/checkpoint?chain=NAME without
// authentication: the chain's latest checkpoint as a C2SP tlog-checkpoint
// signed note with its witnesses' cosignatures (only a size and a hash);
// with cosigned=N, the latest with at least N cosignatures.
func AuditCheckpoint(st audit.TreeStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chain := r.URL.Query().Get("chain")
		if chain == "" {
			writeError(w, r, errBadRequest("chain is required"))
			return
		}
		min := 0
		if v := r.URL.Query().Get("cosigned"); v != "" {
			var err error
			if min, err = strconv.Atoi(v); err != nil || min < 0 {
				writeError(w, r, errBadRequest("cosigned must be a count"))
				return
			}
		}
		notes, err := st.Notes(r.Context(), chain)
		if err != nil {
			writeError(w, r, err)
			return
		}
		for i := len(notes) - 1; i >= 0; i-- {
			if len(notes[i].Cosignatures) >= min {
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				w.Header().Set("Cache-Control", "no-store")
				_, _ = w.Write(notes[i].Signed())
				return
			}
		}
		writeError(w, r, errNotFound)
	})
}

// AuditProof serves GET /v1/audit/proof/{event_id}: the event's receipt
// (inclusion proof in the latest checkpoint covering it, ?cosigned=N: one
// with at least N cosignatures), to the event's subject or a holder of
// audit.read; to anyone else the event does not exist.
func (s *Server) AuditProof(st audit.TreeStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := audit.ParseEventID(r.PathValue("event_id"))
		if err != nil {
			writeError(w, r, errBadRequest(err.Error()))
			return
		}
		min := 0
		if v := r.URL.Query().Get("cosigned"); v != "" {
			if min, err = strconv.Atoi(v); err != nil || min < 0 {
				writeError(w, r, errBadRequest("cosigned must be a count"))
				return
			}
		}
		rc, err := audit.Prove(r.Context(), st, id, min)
		p := principal.From(r.Context())
		if err == nil && rc.Event.Subject != p.Subject && !s.runtime(r).Perms.Has(p, "audit.read") {
			err = audit.ErrNoEvent
		}
		switch {
		case errors.Is(err, audit.ErrNoEvent):
			writeError(w, r, errNotFound)
		case errors.Is(err, audit.ErrNotCheckpointed):
			writeError(w, r, &apiError{Status: http.StatusConflict, Code: "not_checkpointed",
				Detail: "No checkpoint covers the event yet; the next one will"})
		case err != nil:
			writeError(w, r, err)
		default:
			respond(w, r, http.StatusOK, rc)
		}
	})
}
