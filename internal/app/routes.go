package app

import (
	"net/http"
	"strings"

	"github.com/gatehousehq/gatehouse/internal/config"
)

// extraRoutes are the public documents of dev mode: the dev issuer's keys.
// (RFC 9728 metadata comes with each runtime: httpapi.Runtime.ResourceMetadata.)
func extraRoutes(devJWKS []byte) map[string]http.Handler {
	m := map[string]http.Handler{}
	if devJWKS != nil {
		m["GET /.well-known/jwks.json"] = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(devJWKS)
		})
	}
	return m
}

// publicBase is the service's own base URL as configured (server.public_url,
// else derived from server.addr and TLS).
func publicBase(cfg *config.Config) string {
	if cfg.Server.PublicURL != "" {
		return strings.TrimRight(cfg.Server.PublicURL, "/")
	}
	scheme := "http"
	if cfg.Server.TLS.CertFile != "" {
		scheme = "https"
	}
	return scheme + "://" + cfg.Server.Addr
}
