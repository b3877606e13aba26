package app

import (
	"net/http"
	"strings"

	"github.com/gatehousehq/gatehouse/internal/authn/jwtauth"
	"github.com/gatehousehq/gatehouse/internal/config"
)

// extraRoutes are public well-known documents: the dev issuer's keys (in
// dev mode) and RFC 9728 metadata when JWT issuers are configured.
func extraRoutes(cfg *config.Config, devJWKS []byte) map[string]http.Handler {
	m := map[string]http.Handler{}
	if devJWKS != nil {
		m["GET /.well-known/jwks.json"] = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(devJWKS)
		})
	}
	if len(cfg.Auth.JWT.Issuers) > 0 {
		var iss []string
		for _, is := range cfg.Auth.JWT.Issuers {
			iss = append(iss, is.Issuer)
		}
		resource := publicBase(cfg)
		m["GET "+jwtauth.ProtectedResourceMetadataPath] = jwtauth.ProtectedResourceMetadata(resource, iss)
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
