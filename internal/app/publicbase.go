package app

import (
	"strings"

	"github.com/gatehousehq/gatehouse/internal/config"
)

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
