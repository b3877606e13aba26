// Package app assembles gatehouse from its config: stores, audit log,
// authenticators, policy, tools, agents and the HTTP server. cmd/gatehouse
// and the load harness both run it; nothing else wires concrete parts.
package app

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/gatehousehq/gatehouse/internal/approval"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/authn/mtls"
	"github.com/gatehousehq/gatehouse/internal/config"
	"github.com/gatehousehq/gatehouse/internal/dlp"
	"github.com/gatehousehq/gatehouse/internal/dlp/secrets"
	"github.com/gatehousehq/gatehouse/internal/httpapi"
	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/llm/openai"
	"github.com/gatehousehq/gatehouse/internal/logbound"
	"github.com/gatehousehq/gatehouse/internal/metrics"
	"github.com/gatehousehq/gatehouse/internal/passthrough"
	"github.com/gatehousehq/gatehouse/internal/policytest"
	"github.com/gatehousehq/gatehouse/internal/session"
	"github.com/gatehousehq/gatehouse/internal/store"
	"github.com/gatehousehq/gatehouse/internal/telemetry"
	"github.com/gatehousehq/gatehouse/internal/tools"
	"github.com/gatehousehq/gatehouse/internal/tools/builtin"
)

// Options say how to run gatehouse.
type Options struct {
	Dev        bool   // quickstart: make and use a dev data dir
	DataDir    string // dev data dir
	ConfigPath string // config file (not with Dev)
	Addr       string // overrides server.addr when set (e.g. 127.0.0.1:0)
	Getenv     func(string) string
	Stdout     io.Writer // the start-up banner and "gatehouse listening on URL"
	Stderr     io.Writer // JSON logs
	// Listening, when set, is called with the base URL once the server accepts connections.
	Listening func(baseURL string)
	// AuditSink replaces the audit log's sink. For the load harness's
	// no-op baseline only; no config key reaches it.
	AuditSink audit.Sink
	// AuditNoTree keeps no Merkle tree (the load harness's baseline for the
	// tree's cost only; no config key reaches it).
	AuditNoTree bool
	// WrapSessions, when set, replaces the session store with what it
	// returns for the one opened (the load harness's in-memory baseline
	// only; no config key reaches it). The result must keep every
	// interface the opened store has.
	WrapSessions func(session.Store) session.Store
	// LogLevel of the JSON logs (default Info).
	LogLevel slog.Level
	// GoTools are tools registered by an embedding Go program (package gatehouse).
	GoTools map[string]GoTool
	// TracerProvider, when set, makes the spans (tests give the SDK's
	// in-memory one); else telemetry.otlp_endpoint or the OTEL_* variables
	// turn on an OTLP exporter, and without them tracing is off.
	TracerProvider trace.TracerProvider
}

// GoTool is a tool a Go program registered, with its default policy.
type GoTool struct {
	Impl       tools.Tool
	Permission string
	Condition  string
}

func (o Options) goToolConfigs() map[string]config.Tool {
	if len(o.GoTools) == 0 {
		return nil
	}
	out := map[string]config.Tool{}
	for name, t := range o.GoTools {
		out[name] = config.Tool{Type: "go", Permission: t.Permission, Condition: t.Condition, Description: t.Impl.Spec().Description}
	}
	return out
}

// Run serves until ctx ends, then shuts down gracefully, letting runs in
// flight finish within server.shutdown_timeout.
func Run(ctx context.Context, o Options) error {
	o = o.withDefaults()
	// Bounded: many logged values come from callers.
	// Scrubbed by data protection once a config is served.
	live := &dlp.Live{}
	log := slog.New(dlp.LogHandler(live, telemetry.LogHandler(logbound.New(slog.NewJSONHandler(o.Stderr, &slog.HandlerOptions{Level: o.LogLevel})))))
	src, err := configSource(o)
	if err != nil {
		return err
	}
	cfg, loaded, err := loadConfig(src.cfgPath, o)
	if err != nil {
		return err
	}
	tp, stopTracing, err := tracerProvider(ctx, cfg, o)
	if err != nil {
		return err
	}
	defer stopTracing(log)
	w, modelNote, err := newWiring(cfg, o, log)
	if err != nil {
		return err
	}
	w.live = live
	w.tracer = telemetry.Tracer(tp)
	st, err := openStores(ctx, cfg, o, &w)
	if err != nil {
		return err
	}
	defer st.close()
	// Started after the audit log (tool changes are recorded), stopped
	// before it closes.
	w.mcp = newMCPSources(log, w.audit)
	defer w.mcp.Close()
	ln, err := listen(cfg)
	if err != nil {
		return err
	}
	defer ln.Close()
	rt, err := buildRuntime(ctx, cfg, w)
	if err != nil {
		return fmt.Errorf("config %s: %w", src.cfgPath, cfg.Redact(err))
	}
	w.mcp.awaitStart()
	if modelNote == "" {
		modelNote = rt.Runner.Model.Name()
	}
	srv := newServer(cfg, loaded, src, o, w, st, rt)
	approvals := srv.Approvals()
	w.metrics.RunsInFlight(srv.RunsInFlight)
	hs, ln, base, err := newHTTPServer(cfg, srv.Handler(), ln, log)
	if err != nil {
		return err
	}
	stopMetrics, err := serveMetrics(cfg, w.metrics, o.Stdout, log)
	if err != nil {
		return err
	}
	defer stopMetrics()
	announce(o, src, cfg, log, st.auditLog, ln, base, modelNote)

	sctx, stopSignals := context.WithCancel(ctx)
	defer stopSignals()
	go reloadOnSIGHUP(sctx, srv, log)
	go sweepApprovals(sctx, approvals, log)
	err = serve(ctx, cfg, hs, ln, srv, log)
	stopSignals()
	waitResumptions(approvals, cfg.Server.ShutdownTimeout)
	return err
}

// selfEnv names this program in configs (see WithSelf).
const selfEnv = "GATEHOUSE_SELF"

// WithSelf is getenv, with GATEHOUSE_SELF naming this program when the
// environment does not: configs use it to start this program's own
// subcommands as stdio MCP servers (dev mode's demo knowledge base).
func WithSelf(getenv func(string) string) func(string) string {
	return func(k string) string {
		if v := getenv(k); v != "" || k != selfEnv {
			return v
		}
		exe, err := os.Executable()
		if err != nil {
			return "gatehouse"
		}
		return exe
	}
}

func (o Options) withDefaults() Options {
	if o.Getenv == nil {
		o.Getenv = func(string) string { return "" }
	}
	o.Getenv = WithSelf(o.Getenv)
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.Stderr == nil {
		o.Stderr = io.Discard
	}
	return o
}

// configSource is the config file to serve: the one given, or dev mode's,
// made in its data dir on first start.
func configSource(o Options) (devData, error) {
	if o.Dev {
		return setupDev(o.DataDir)
	}
	if o.ConfigPath == "" {
		return devData{}, errors.New("serve: give --dev for the quickstart, or --config FILE")
	}
	return devData{cfgPath: o.ConfigPath}, nil
}

// loadConfig returns the config with Options' overrides applied, and as
// the file says (what a reload compares against).
func loadConfig(cfgPath string, o Options) (cfg *config.Config, loaded config.Config, err error) {
	cfg, err = config.LoadWith(cfgPath, o.Getenv, o.goToolConfigs())
	if err != nil {
		return nil, loaded, fmt.Errorf("load %s: %w", cfgPath, err)
	}
	loaded = *cfg
	if o.Addr != "" {
		cfg.Server.Addr = o.Addr
	}
	return cfg, loaded, nil
}

// newWiring is what every runtime is built with; in dev mode it carries
// the model dev mode chose, and modelNote says which.
func newWiring(cfg *config.Config, o Options, log *slog.Logger) (w wiring, modelNote string, err error) {
	w = wiring{getenv: o.Getenv, log: log, goTools: o.GoTools, limiters: &limiterCache{}, dev: o.Dev, metrics: metrics.New(),
		secretRules: sync.OnceValues(secrets.New)}
	if o.Dev {
		if w.modelOverride, modelNote, err = devModel(cfg, o.Getenv); err != nil {
			return w, "", err
		}
	}
	return w, modelNote, nil
}

// stores are what outlives every runtime: the demo database, the audit log
// and the session store.
type stores struct {
	auditLog   *audit.Log
	auditStore audit.Store
	// checkpointKey verifies checkpoints (nil: none configured).
	checkpointKey ed25519.PublicKey
	sessions      session.Store
	approvals     approval.Store
	responses     session.ResponseStore
	witnessing    *audit.Witnessing // nil: no witnesses
	closers       []func()
}

// witnessStatus is /ready's audit_witness detail.
func (s *stores) witnessStatus(ctx context.Context) any {
	ws, err := s.witnessing.Status(ctx)
	if err != nil {
		return map[string]string{"error": "witness status unavailable"}
	}
	return ws
}

// ready reports whether the audit log accepts writes and the session
// store answers: /ready fails when either database is unreachable.
func (s *stores) ready(ctx context.Context) error {
	if err := s.auditLog.Ready(ctx); err != nil {
		return err
	}
	if p, ok := s.sessions.(interface{ Ping(context.Context) error }); ok {
		if err := p.Ping(ctx); err != nil {
			return fmt.Errorf("sessions store: %w", err)
		}
	}
	return nil
}

func (s *stores) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

// openStores opens the stores and puts the demo database and the audit
// sink into w. On error, what was opened is closed.
func openStores(ctx context.Context, cfg *config.Config, o Options, w *wiring) (_ *stores, err error) {
	st := &stores{}
	defer func() {
		if err != nil {
			st.close()
		}
	}()
	if usesBuiltin(cfg) {
		demo, err := builtin.OpenDemo(ctx, cfg.Demo.DSN)
		if err != nil {
			return nil, err
		}
		st.closers = append(st.closers, func() { demo.Close() })
		w.demo = demo
	}
	auditLog, auditStore, checkpointKey, witnessing, closeAudit, err := openAudit(ctx, cfg, o.Getenv, w.log, o.AuditNoTree)
	if err != nil {
		return nil, err
	}
	st.closers = append(st.closers, closeAudit)
	st.auditLog, st.auditStore, st.checkpointKey, st.witnessing = auditLog, auditStore, checkpointKey, witnessing
	if witnessing != nil {
		w.metrics.Unwitnessed(func() int64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			ws, err := witnessing.Status(ctx)
			if err != nil {
				return -1
			}
			return ws.Unwitnessed
		})
	}
	w.audit = auditLog
	if o.AuditSink != nil {
		w.audit = o.AuditSink
	}
	w.audit = telemetry.Sink{Next: w.metrics.AuditSink(w.audit), Tracer: w.tracer}
	if w.live != nil {
		// Every value, before the log's clear fields or its content.
		w.audit = dlp.Sink{Next: w.audit, Live: w.live}
	}
	sessions, err := store.OpenSessions(ctx, cfg.Sessions.DSN)
	if err != nil {
		return nil, fmt.Errorf("open sessions: %w", err)
	}
	st.closers = append(st.closers, func() { sessions.Close() })
	if o.WrapSessions != nil {
		sessions = o.WrapSessions(sessions)
	}
	st.sessions = sessions
	calls, ok := sessions.(passthrough.CallStore)
	if !ok {
		return nil, fmt.Errorf("open sessions: the store %T keeps no released tool calls", sessions)
	}
	w.calls = calls
	if st.approvals, ok = sessions.(approval.Store); !ok {
		return nil, fmt.Errorf("open sessions: the store %T keeps no paused runs", sessions)
	}
	w.approvals = st.approvals
	if st.responses, ok = sessions.(session.ResponseStore); !ok {
		return nil, fmt.Errorf("open sessions: the store %T keeps no responses", sessions)
	}
	if w.vault, ok = sessions.(dlp.Vault); !ok {
		return nil, fmt.Errorf("open sessions: the store %T keeps no data protection vault", sessions)
	}
	if w.counter, ok = sessions.(httpapi.RateCounter); !ok {
		return nil, fmt.Errorf("open sessions: the store %T counts no shared rate limits", sessions)
	}
	return st, nil
}

// listen opens the listener before the runtime is built: with port 0 the
// port is known only now, and the RFC 9728 resource URL derived from
// server.addr must name it.
func listen(cfg *config.Config) (net.Listener, error) {
	ln, err := net.Listen("tcp", cfg.Server.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	if _, port, err := net.SplitHostPort(cfg.Server.Addr); err == nil && port == "0" {
		cfg.Server.Addr = ln.Addr().String()
	}
	return ln, nil
}

// newServer is the API over rt, reloading from the same config source.
func newServer(cfg *config.Config, loaded config.Config, src devData, o Options, w wiring, st *stores, rt *httpapi.Runtime) *httpapi.Server {
	return httpapi.New(httpapi.Deps{
		Log: w.log, Audit: w.audit, Sessions: st.sessions, Responses: st.responses, Tracer: w.tracer,
		AuthFailures: func(ctx context.Context, ev audit.Event) error {
			return st.auditLog.RecordAuthFailure(ctx, telemetry.StampTraceID(ctx, []audit.Event{ev})[0])
		},
		Ready: st.ready, MCPStatus: func() any { return w.mcp.Status() }, MCPStarting: w.mcp.Starting,
		WitnessStatus: witnessStatusOf(st),
		Reload: func(ctx context.Context) (*httpapi.Runtime, error) {
			c, err := config.LoadWith(src.cfgPath, o.Getenv, o.goToolConfigs())
			if err != nil {
				return nil, err
			}
			if err := restartOnly(&loaded, c); err != nil {
				return nil, c.Redact(err)
			}
			c.Server.Addr = cfg.Server.Addr // the address as listened on (port 0 resolved)
			rt, err := buildRuntime(ctx, c, w)
			return rt, c.Redact(err)
		},
		DryRun: func(ctx context.Context, running *httpapi.Runtime, since time.Duration) (*policytest.Diff, error) {
			c, err := config.LoadWith(src.cfgPath, o.Getenv, o.goToolConfigs())
			if err != nil {
				return nil, err
			}
			if err := restartOnly(&loaded, c); err != nil {
				return nil, c.Redact(err)
			}
			return dryRun(ctx, running, c, o.Getenv, st.auditStore, time.Now().Add(-since))
		},
		AuditLog: st.auditStore, CheckpointKey: st.checkpointKey,
		DevJWKS: src.jwks, ApprovalStore: st.approvals,
		Metrics: w.metrics, MetricsHandler: mainListenerMetrics(cfg, w.metrics),
	}, rt)
}

// witnessStatusOf is nil without witnesses (/ready then says nothing of them).
func witnessStatusOf(st *stores) func(context.Context) any {
	if st.witnessing == nil {
		return nil
	}
	return st.witnessStatus
}

// announce logs the start and tells the operator (and Options.Listening)
// where gatehouse listens.
func announce(o Options, src devData, cfg *config.Config, log *slog.Logger, auditLog *audit.Log, ln net.Listener, base, modelNote string) {
	log.Info("gatehouse started", "addr", ln.Addr().String(), "model", modelNote, "config", src.cfgPath, "audit_chain", auditLog.ChainID())
	for _, w := range PolicyWarnings(cfg) {
		log.Warn("policy", "warning", w)
	}
	if o.Dev {
		printDev(o.Stdout, o.DataDir, base, src.creds, modelNote)
	}
	fmt.Fprintf(o.Stdout, "gatehouse listening on %s\n", base)
	if o.Listening != nil {
		o.Listening(base)
	}
}

// serve serves until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, cfg *config.Config, hs *http.Server, ln net.Listener, srv *httpapi.Server, log *slog.Logger) error {
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down; letting runs in flight finish", "timeout", cfg.Server.ShutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	srv.Close()
	return nil
}

// devModel is dev mode's model: OpenAI when OPENAI_API_KEY is set, else
// the offline demo model — said plainly on start either way.
func devModel(cfg *config.Config, getenv func(string) string) (llm.Model, string, error) {
	key := getenv("OPENAI_API_KEY")
	if key == "" {
		return llm.Offline{}, "the offline demo model (set OPENAI_API_KEY to use OpenAI)", nil
	}
	m, err := openai.New(openai.Config{BaseURL: cfg.Model.BaseURL, APIKey: key, Model: cfg.Model.Model,
		Timeout: cfg.Model.Timeout, MaxRetries: *cfg.Model.MaxRetries})
	if err != nil {
		return nil, "", err
	}
	return m, "OpenAI (" + cfg.Model.Model + "), because OPENAI_API_KEY is set", nil
}

// newHTTPServer is the HTTP server for h, and ln wrapped in TLS when
// server.tls says so; base is the URL it serves at.
func newHTTPServer(cfg *config.Config, h http.Handler, ln net.Listener, log *slog.Logger) (*http.Server, net.Listener, string, error) {
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      cfg.Server.RequestTimeout + 10*time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	scheme := "http"
	if t := cfg.Server.TLS; t.CertFile != "" {
		tc, err := mtls.ServerTLSConfig(t.CertFile, t.KeyFile, t.ClientCAFile)
		if err != nil {
			return nil, nil, "", fmt.Errorf("server.tls: %w", err)
		}
		hs.TLSConfig = tc
		ln = tls.NewListener(ln, tc)
		scheme = "https"
	}
	return hs, ln, scheme + "://" + ln.Addr().String(), nil
}

// reloadOnSIGHUP reloads the config on each SIGHUP until ctx ends; the
// server records each attempt as the endpoint's are.
func reloadOnSIGHUP(ctx context.Context, srv *httpapi.Server, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		v, err := srv.Reload(ctx, audit.Event{Subject: "signal:SIGHUP"})
		switch {
		case errors.Is(err, httpapi.ErrReloadNotRecorded):
			log.Error("reload not applied: the audit log cannot record it; the old config keeps serving", "error", err.Error())
		case err != nil:
			log.Error("reload refused; the old config keeps serving", "error", err.Error())
		default:
			log.Info("config reloaded", "version", v)
		}
	}
}
