package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/gatehousehq/gatehouse/internal/config"
	"github.com/gatehousehq/gatehouse/internal/telemetry/otlp"
)

// tracerProvider is Options.TracerProvider, or an OTLP exporter when the
// config or the OTEL_* variables ask for one, or nil (tracing off). stop
// flushes the exporter's queue at shutdown.
func tracerProvider(ctx context.Context, cfg *config.Config, o Options) (trace.TracerProvider, func(*slog.Logger), error) {
	none := func(*slog.Logger) {}
	if o.TracerProvider != nil {
		return o.TracerProvider, none, nil
	}
	oc := otlp.Config{Endpoint: cfg.Telemetry.OTLPEndpoint, ServiceName: cfg.Telemetry.ServiceName, Getenv: o.Getenv}
	if !otlp.Enabled(oc) {
		return nil, none, nil
	}
	p, err := otlp.New(ctx, oc)
	if err != nil {
		return nil, none, fmt.Errorf("telemetry: %w", err)
	}
	return p, func(log *slog.Logger) {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := p.Shutdown(sctx); err != nil {
			log.Warn("flushing traces at shutdown", "error", err.Error())
		}
	}, nil
}
