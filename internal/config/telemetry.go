package config

import (
	"net/url"
	"strings"
)

// Telemetry configures tracing. With OTLPEndpoint empty, tracing is on
// only when the standard OTEL_EXPORTER_OTLP_* variables name an endpoint.
type Telemetry struct {
	// OTLPEndpoint is the OTLP/HTTP collector's base URL
	// (http://collector:4318); traces go to its /v1/traces.
	OTLPEndpoint string `yaml:"otlp_endpoint"`
	// ServiceName is the service.name resource attribute (default
	// gatehouse; OTEL_SERVICE_NAME overrides it).
	ServiceName string `yaml:"service_name"`
}

func (t *Telemetry) check(bad func(string, string, ...any)) {
	if t.OTLPEndpoint != "" {
		u, err := url.Parse(t.OTLPEndpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("telemetry.otlp_endpoint", "must be an http:// or https:// URL")
		} else if u.User != nil {
			bad("telemetry.otlp_endpoint", "must not hold credentials (the URL is logged)")
		}
	}
	if strings.TrimSpace(t.ServiceName) != t.ServiceName {
		bad("telemetry.service_name", "must not start or end with spaces")
	}
}
