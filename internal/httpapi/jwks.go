package httpapi

import (
	"encoding/json"
	"net/http"
)

// handleJWKS serves the public keys of the call tokens the live runtime
// signs, current and previous, and in dev mode the dev issuer's key: one
// document, each key named by its kid. No auth: tools fetch it to verify.
func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) {
	var keys []json.RawMessage
	for _, doc := range [][]byte{s.runtime(r).CallTokenJWKS, s.DevJWKS} {
		var set struct {
			Keys []json.RawMessage `json:"keys"`
		}
		if doc != nil && json.Unmarshal(doc, &set) == nil {
			keys = append(keys, set.Keys...)
		}
	}
	if len(keys) == 0 {
		writeError(w, r, errNotFound)
		return
	}
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "max-age=60")
	_, _ = w.Write(b)
}
