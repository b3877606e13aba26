package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gatehousehq/gatehouse/internal/config"
	"github.com/gatehousehq/gatehouse/internal/metrics"
)

// mainListenerMetrics is the /metrics handler the API serves behind the
// metrics permission: only when server.metrics_addr gives metrics no
// listener of their own.
func mainListenerMetrics(cfg *config.Config, m *metrics.Metrics) http.Handler {
	if cfg.Server.MetricsAddr != "" {
		return nil
	}
	return m.Handler()
}

// serveMetrics serves GET /metrics without authentication on
// server.metrics_addr, when set, and says where on stdout. stop shuts the
// listener down.
func serveMetrics(cfg *config.Config, m *metrics.Metrics, stdout io.Writer, log *slog.Logger) (stop func(), err error) {
	if cfg.Server.MetricsAddr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", cfg.Server.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("server.metrics_addr: listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	hs := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener stopped", "error", err.Error())
		}
	}()
	fmt.Fprintf(stdout, "gatehouse metrics on http://%s/metrics\n", ln.Addr())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
	}, nil
}
