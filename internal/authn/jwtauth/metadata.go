package jwtauth

import (
	"encoding/json"
	"net/http"
)

// ProtectedResourceMetadataPath is where RFC 9728 metadata is served.
const ProtectedResourceMetadataPath = "/.well-known/oauth-protected-resource"

// ProtectedResourceMetadata serves RFC 9728 protected resource metadata:
// resource is this service's identifier (its public base URL), issuers the
// authorization servers whose tokens it accepts. Mount it at
// ProtectedResourceMetadataPath; 401 responses can then point clients at it
// with `WWW-Authenticate: Bearer resource_metadata="<base>/.well-known/oauth-protected-resource"`.
func ProtectedResourceMetadata(resource string, issuers []string) http.Handler {
	doc := struct {
		Resource               string   `json:"resource"`
		AuthorizationServers   []string `json:"authorization_servers"`
		BearerMethodsSupported []string `json:"bearer_methods_supported"`
	}{resource, append([]string{}, issuers...), []string{"header"}}
	body, err := json.Marshal(doc)
	if err != nil {
		panic("encode protected resource metadata: " + err.Error()) // strings always encode
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = w.Write(body)
	})
}
