// Package app assembles gatehouse from its config: stores, audit log,
// authenticators, policy, tools, agents and the HTTP server. cmd/gatehouse
// and the load harness both run it; nothing else wires concrete parts.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/authn/mtls"
	"github.com/gatehousehq/gatehouse/internal/config"
	"github.com/gatehousehq/gatehouse/internal/httpapi"
	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/llm/openai"
	"github.com/gatehousehq/gatehouse/internal/logbound"
	"github.com/gatehousehq/gatehouse/internal/store"
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
	// LogLevel of the JSON logs (default Info).
	LogLevel slog.Level
	// GoTools are tools registered by an embedding Go program (package gatehouse).
	GoTools map[string]GoTool
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
	if o.Getenv == nil {
		o.Getenv = func(string) string { return "" }
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.Stderr == nil {
		o.Stderr = io.Discard
	}
	// Bounded: many logged values come from callers.
	log := slog.New(logbound.New(slog.NewJSONHandler(o.Stderr, &slog.HandlerOptions{Level: o.LogLevel})))
	cfgPath := o.ConfigPath
	var dev devData
	if o.Dev {
		var err error
		if dev, err = setupDev(o.DataDir); err != nil {
			return err
		}
		cfgPath = dev.cfgPath
	} else if cfgPath == "" {
		return errors.New("serve: give --dev for the quickstart, or --config FILE")
	}
	cfg, err := config.LoadWith(cfgPath, o.Getenv, o.goToolConfigs())
	if err != nil {
		return fmt.Errorf("load %s: %w", cfgPath, err)
	}
	loaded := *cfg // as the file says, before the overrides below
	if o.Addr != "" {
		cfg.Server.Addr = o.Addr
	}
	w := wiring{getenv: o.Getenv, log: log, goTools: o.GoTools, limiters: &limiterCache{}, dev: o.Dev}
	modelNote := ""
	if o.Dev {
		if w.modelOverride, modelNote, err = devModel(cfg, o.Getenv); err != nil {
			return err
		}
	}
	if usesBuiltin(cfg) {
		demo, err := builtin.OpenDemo(ctx, cfg.Demo.DSN)
		if err != nil {
			return err
		}
		defer demo.Close()
		w.demo = demo
	}
	auditLog, auditStore, checkpointPub, closeAudit, err := openAudit(ctx, cfg, o.Getenv, log)
	if err != nil {
		return err
	}
	defer closeAudit()
	w.audit = auditLog
	if o.AuditSink != nil {
		w.audit = o.AuditSink
	}
	sessions, err := store.OpenSessions(ctx, cfg.Sessions.DSN)
	if err != nil {
		return fmt.Errorf("open sessions: %w", err)
	}
	defer sessions.Close()

	// Listen before building the runtime: with port 0 the port is known only
	// now, and the RFC 9728 resource URL derived from server.addr must name it.
	ln, err := net.Listen("tcp", cfg.Server.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()
	if _, port, err := net.SplitHostPort(cfg.Server.Addr); err == nil && port == "0" {
		cfg.Server.Addr = ln.Addr().String()
	}

	rt, err := buildRuntime(ctx, cfg, w)
	if err != nil {
		return fmt.Errorf("config %s: %w", cfgPath, cfg.Redact(err))
	}
	if modelNote == "" {
		modelNote = rt.Runner.Model.Name()
	}
	srv := httpapi.New(httpapi.Deps{
		Log: log, Audit: w.audit, AuthFailures: auditLog.RecordAuthFailure, Sessions: sessions,
		Ready: auditLog.Ready,
		Reload: func(ctx context.Context) (*httpapi.Runtime, error) {
			c, err := config.LoadWith(cfgPath, o.Getenv, o.goToolConfigs())
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
		Extra: extraRoutes(dev.jwks),
	}, rt)
	srv.HandleProtected("GET /admin/audit", "audit.read", httpapi.AuditList(auditStore))
	srv.HandleProtected("GET /admin/audit/verify", "audit.read", httpapi.AuditVerify(auditStore, checkpointPub))

	hs := newHTTPServer(cfg, srv.Handler(), log)
	scheme := "http"
	if t := cfg.Server.TLS; t.CertFile != "" {
		tc, err := mtls.ServerTLSConfig(t.CertFile, t.KeyFile, t.ClientCAFile)
		if err != nil {
			return fmt.Errorf("server.tls: %w", err)
		}
		hs.TLSConfig = tc
		ln = tls.NewListener(ln, tc)
		scheme = "https"
	}
	base := scheme + "://" + ln.Addr().String()
	log.Info("gatehouse started", "addr", ln.Addr().String(), "model", modelNote, "config", cfgPath, "audit_chain", auditLog.ChainID())
	if o.Dev {
		printDev(o.Stdout, o.DataDir, base, dev.creds, modelNote)
	}
	fmt.Fprintf(o.Stdout, "gatehouse listening on %s\n", base)
	if o.Listening != nil {
		o.Listening(base)
	}

	sctx, stopSignals := context.WithCancel(ctx)
	defer stopSignals()
	go reloadOnSIGHUP(sctx, srv, auditLog, log)

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

func newHTTPServer(cfg *config.Config, h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      cfg.Server.RequestTimeout + 10*time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// reloadOnSIGHUP reloads the config on each SIGHUP until ctx ends, and
// records each attempt.
func reloadOnSIGHUP(ctx context.Context, srv *httpapi.Server, auditLog *audit.Log, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		var recErr error
		v, err := srv.Reload(ctx, func(buildErr error) error {
			ev := audit.Event{Type: audit.TypeConfigReloaded, Subject: "signal:SIGHUP", Resource: "config", Outcome: "ok"}
			if buildErr != nil {
				ev.Outcome, ev.Reason = "refused", buildErr.Error()
			}
			recErr = auditLog.Record(ctx, ev)
			return recErr
		})
		switch {
		case recErr != nil:
			log.Error("reload not applied: the audit log cannot record it; the old config keeps serving", "error", recErr.Error())
		case err != nil:
			log.Error("reload refused; the old config keeps serving", "error", err.Error())
		default:
			log.Info("config reloaded", "version", v)
		}
	}
}
