package httpapi

import (
	"crypto/ed25519"
	"errors"
	"net/http"

	"github.com/gatehousehq/gatehouse/internal/audit"
)

// AuditList serves GET /admin/audit: events filtered by subject, type,
// decision, since and until, newest first, paged by cursor and limit.
func AuditList(st audit.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := audit.ParseQuery(r.URL.Query())
		if err != nil {
			writeError(w, r, errBadRequest(err.Error()))
			return
		}
		page, err := audit.List(r.Context(), st, q)
		if errors.Is(err, audit.ErrBadQuery) {
			writeError(w, r, errBadRequest(err.Error()))
			return
		}
		if err != nil {
			writeError(w, r, err)
			return
		}
		if page.Events == nil {
			page.Events = []audit.Event{}
		}
		respond(w, r, http.StatusOK, page)
	})
}

// AuditVerify serves GET /admin/audit/verify: the chain check as JSON.
// Checkpoints must be signed by pub when it is set.
func AuditVerify(st audit.Store, pub ed25519.PublicKey) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := audit.Verify(r.Context(), st, audit.VerifyOptions{PublicKey: pub})
		if err != nil {
			writeError(w, r, err)
			return
		}
		respond(w, r, http.StatusOK, res)
	})
}
