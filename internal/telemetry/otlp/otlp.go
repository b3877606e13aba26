// Package otlp builds the OpenTelemetry SDK tracer provider that exports
// gatehouse's spans over OTLP/HTTP. It is the only package that imports the
// SDK and the exporter; the rest of gatehouse sees a trace.TracerProvider.
package otlp

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Config says where spans go.
type Config struct {
	// Endpoint is the collector's base URL (telemetry.otlp_endpoint);
	// /v1/traces is added when it has no path. Empty: the standard
	// OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT variables decide.
	Endpoint string
	// ServiceName is service.name unless OTEL_SERVICE_NAME is set.
	ServiceName string
	// Version is service.version.
	Version string
	// Getenv reads the environment (the OTEL_* variables).
	Getenv func(string) string
}

// Enabled reports whether c asks for tracing: an endpoint in the config,
// or one in the standard variables, unless OTEL_SDK_DISABLED=true or
// OTEL_TRACES_EXPORTER=none.
func Enabled(c Config) bool {
	get := c.Getenv
	if strings.EqualFold(get("OTEL_SDK_DISABLED"), "true") || strings.EqualFold(get("OTEL_TRACES_EXPORTER"), "none") {
		return false
	}
	return c.Endpoint != "" || get("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// Provider exports spans in batches; Shutdown flushes what is queued.
type Provider struct {
	*sdktrace.TracerProvider
}

var _ trace.TracerProvider = (*Provider)(nil)

// New builds the exporting provider. The exporter reads the remaining
// OTEL_EXPORTER_OTLP_* variables (headers, timeout, TLS) itself; it
// connects lazily, so a collector that is down costs dropped spans, never a
// failed start or a slower request.
func New(ctx context.Context, c Config) (*Provider, error) {
	var opts []otlptracehttp.Option
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil {
			return nil, fmt.Errorf("telemetry.otlp_endpoint: %w", err)
		}
		if u.Path == "" || u.Path == "/" {
			u.Path = "/v1/traces"
		}
		opts = append(opts, otlptracehttp.WithEndpointURL(u.String()))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("otlp exporter: %w", err)
	}
	name := c.ServiceName
	if v := c.Getenv("OTEL_SERVICE_NAME"); v != "" {
		name = v
	}
	if name == "" {
		name = "gatehouse"
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", name)}
	if c.Version != "" {
		attrs = append(attrs, attribute.String("service.version", c.Version))
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attrs...))
	if err != nil {
		return nil, fmt.Errorf("trace resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(5*time.Second)),
		sdktrace.WithResource(res),
	)
	return &Provider{tp}, nil
}
