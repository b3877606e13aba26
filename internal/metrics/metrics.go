// Package metrics is gatehouse's Prometheus instrumentation: one registry
// per server holding the series SPEC "Operations" lists, the Go runtime and
// process collectors, and the handler that serves them.
//
// Label values are bounded: routes are mux patterns, tools and agents are
// names from config (a tool the model invents is "unknown"), models are
// the configured ones. No label holds a subject, key, token or argument.
package metrics

import (
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds a server's registry and its series. Its methods are safe
// for concurrent use; a nil *Metrics observes nothing.
type Metrics struct {
	reg *prometheus.Registry

	httpRequests  *prometheus.CounterVec
	httpDuration  *prometheus.HistogramVec
	runs          *prometheus.CounterVec
	runDuration   *prometheus.HistogramVec
	toolDecisions *prometheus.CounterVec
	authFailures  *prometheus.CounterVec
	auditCommit   prometheus.Histogram
	auditDown     prometheus.Counter
	modelDuration *prometheus.HistogramVec
	modelErrors   *prometheus.CounterVec
	modelTokens   *prometheus.CounterVec
	jwksRefreshes *prometheus.CounterVec
}

// New returns metrics on a registry of their own, with the Go runtime and
// process collectors.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	f := factory{reg}
	m := &Metrics{
		reg: reg,
		httpRequests: f.counterVec("gatehouse_http_requests_total",
			"HTTP requests served, by route (the mux pattern) and status.", "route", "status"),
		httpDuration: f.histogramVec("gatehouse_http_request_duration_seconds",
			"Time to serve an HTTP request, by route.", prometheus.DefBuckets, "route"),
		runs: f.counterVec("gatehouse_runs_total",
			"Runs finished, by agent (or passthrough:MODEL) and outcome.", "agent", "outcome"),
		runDuration: f.histogramVec("gatehouse_run_duration_seconds",
			"Run duration, by agent and outcome.", runBuckets, "agent", "outcome"),
		toolDecisions: f.counterVec("gatehouse_tool_decisions_total",
			"Tool call authorization decisions, by tool (unknown for a name not in config) and decision.", "tool", "decision"),
		authFailures: f.counterVec("gatehouse_auth_failures_total",
			"Authentication failures, by method (none, api_key, jwt, mtls) and reason.", "method", "reason"),
		auditCommit: f.histogram("gatehouse_audit_commit_duration_seconds",
			"Time for audit events to become durable (or fail).", commitBuckets),
		auditDown: f.counter("gatehouse_audit_unavailable_total",
			"Audit writes refused because the audit log could not record them (the request failed closed)."),
		modelDuration: f.histogramVec("gatehouse_model_request_duration_seconds",
			"Model request latency, by model.", runBuckets, "model"),
		modelErrors: f.counterVec("gatehouse_model_errors_total",
			"Model requests that failed, by model.", "model"),
		modelTokens: f.counterVec("gatehouse_model_tokens_total",
			"Tokens used, by model and type (prompt, completion).", "model", "type"),
		jwksRefreshes: f.counterVec("gatehouse_jwks_refreshes_total",
			"JWKS fetches, by issuer (from config) and result (ok, error).", "issuer", "result"),
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

var (
	runBuckets    = []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}
	commitBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5}
)

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// RunsInFlight reports n(), read at each scrape, as the runs in flight.
func (m *Metrics) RunsInFlight(n func() int64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "gatehouse_runs_in_flight", Help: "Agent runs in flight.",
	}, func() float64 { return float64(n()) }))
}

// Unwitnessed reports n(), read at each scrape, as the audit events no
// checkpoint cosigned by the witness quorum covers yet.
func (m *Metrics) Unwitnessed(n func() int64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "gatehouse_audit_unwitnessed_events", Help: "Audit events of this process's chain not yet covered by a checkpoint cosigned by the witness quorum.",
	}, func() float64 { return float64(n()) }))
}

// Request counts a served request; route is the mux pattern, never the
// path ("" when none matched).
func (m *Metrics) Request(route string, status int, d time.Duration) {
	if m == nil {
		return
	}
	if route == "" {
		route = "unmatched"
	}
	m.httpRequests.WithLabelValues(route, statusLabel(status)).Inc()
	m.httpDuration.WithLabelValues(route).Observe(d.Seconds())
}

// statusLabel is status as a label value: the common ones without making
// a string per request.
func statusLabel(status int) string {
	switch status {
	case http.StatusOK:
		return "200"
	case http.StatusAccepted:
		return "202"
	case http.StatusBadRequest:
		return "400"
	case http.StatusUnauthorized:
		return "401"
	case http.StatusForbidden:
		return "403"
	case http.StatusNotFound:
		return "404"
	case http.StatusTooManyRequests:
		return "429"
	case http.StatusInternalServerError:
		return "500"
	case http.StatusServiceUnavailable:
		return "503"
	case http.StatusGatewayTimeout:
		return "504"
	}
	return strconv.Itoa(status)
}

// AuthFailed counts an authentication failure.
func (m *Metrics) AuthFailed(method, reason string) {
	if m == nil {
		return
	}
	m.authFailures.WithLabelValues(label(method), label(reason)).Inc()
}

// KeysRefreshed counts a JWKS fetch of issuer (a configured issuer URL).
func (m *Metrics) KeysRefreshed(issuer string, err error) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.jwksRefreshes.WithLabelValues(issuer, result).Inc()
}

// labelPattern is what a label value from a name may look like: config
// names, outcomes and reasons. Anything else is reported as "unknown", so a
// value that slipped past its source's bounds cannot carry text.
var labelPattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.:/ -]{0,127}$`)

func label(v string) string {
	if !labelPattern.MatchString(v) {
		return "unknown"
	}
	return v
}

// factory registers what it makes on one registry.
type factory struct{ r prometheus.Registerer }

func register[C prometheus.Collector](r prometheus.Registerer, c C) C {
	r.MustRegister(c)
	return c
}

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return register(f.r, prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels))
}

func (f factory) counter(name, help string) prometheus.Counter {
	return register(f.r, prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help}))
}

func (f factory) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	return register(f.r, prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels))
}

func (f factory) histogram(name, help string, buckets []float64) prometheus.Histogram {
	return register(f.r, prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}))
}
