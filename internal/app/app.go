// Package app assembles gatehouse from its config: stores, audit log,
// authenticators, policy, tools, agents and the HTTP server. cmd/gatehouse
// and the load harness both run it; nothing else wires concrete parts.
package app

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/authn/jwtauth"
	"github.com/gatehousehq/gatehouse/internal/authn/mtls"
	"github.com/gatehousehq/gatehouse/internal/config"
	"github.com/gatehousehq/gatehouse/internal/httpapi"
	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/store"
	"github.com/gatehousehq/gatehouse/internal/tools"
	"github.com/gatehousehq/gatehouse/internal/tools/builtin"
)

func sha256Sum(s string) [32]byte { return sha256.Sum256([]byte(s)) }

// SplitList splits a comma-separated list, dropping empty items.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

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
	getenv, stdout := o.Getenv, o.Stdout
	dev, dataDir, addr := &o.Dev, &o.DataDir, &o.Addr
	log := slog.New(slog.NewJSONHandler(o.Stderr, &slog.HandlerOptions{Level: o.LogLevel}))
	cfgPath := o.ConfigPath
	var creds map[string]string
	if *dev {
		var err error
		cfgPath, creds, err = setupDev(*dataDir)
		if err != nil {
			return err
		}
	} else if cfgPath == "" {
		return errors.New("serve: give --dev for the quickstart, or --config FILE")
	}
	cfg, err := config.LoadWith(cfgPath, getenv, o.goToolConfigs())
	if err != nil {
		return fmt.Errorf("load %s: %w", cfgPath, err)
	}
	if *addr != "" {
		cfg.Server.Addr = *addr
	}
	w := wiring{getenv: getenv, log: log, goTools: o.GoTools}
	modelNote := ""
	if *dev {
		if key := getenv("OPENAI_API_KEY"); key != "" {
			o, err := llm.NewOpenAI(llm.OpenAIConfig{BaseURL: cfg.Model.BaseURL, APIKey: key, Model: cfg.Model.Model, Timeout: cfg.Model.Timeout, MaxRetries: *cfg.Model.MaxRetries})
			if err != nil {
				return err
			}
			w.modelOverride = o
			modelNote = "OpenAI (" + cfg.Model.Model + "), because OPENAI_API_KEY is set"
		} else {
			w.modelOverride = llm.Offline{}
			modelNote = "the offline demo model (set OPENAI_API_KEY to use OpenAI)"
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
	auditLog, auditStore, closeAudit, err := openAudit(ctx, cfg, getenv, log)
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
		return fmt.Errorf("config %s: %w", cfgPath, err)
	}
	if modelNote == "" {
		modelNote = rt.Runner.Model.Name()
	}
	srv := httpapi.New(httpapi.Deps{
		Log: log, Audit: w.audit, AuthFailures: auditLog.RecordAuthFailure, Sessions: sessions,
		Ready: auditLog.Ready,
		Reload: func(ctx context.Context) (*httpapi.Runtime, error) {
			c, err := config.LoadWith(cfgPath, getenv, o.goToolConfigs())
			if err != nil {
				return nil, err
			}
			c.Server.Addr = cfg.Server.Addr // the listener does not move on reload
			return buildRuntime(ctx, c, w)
		},
		Extra: extraRoutes(cfg, *dev, *dataDir),
	}, rt)
	srv.HandleProtected("GET /admin/audit", "audit.read", httpapi.AuditList(auditStore))
	srv.HandleProtected("GET /admin/audit/verify", "audit.read", httpapi.AuditVerify(auditStore, checkpointPublicKey(cfg)))

	scheme := "http"
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      cfg.Server.RequestTimeout + 10*time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
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
	if *dev {
		printDev(stdout, *dataDir, base, creds, modelNote)
	}
	fmt.Fprintf(stdout, "gatehouse listening on %s\n", base)
	if o.Listening != nil {
		o.Listening(base)
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			v, err := srv.Reload(ctx)
			ev := audit.Event{Type: audit.TypeConfigReloaded, Subject: "signal:SIGHUP", Resource: "config", Outcome: "ok"}
			if err != nil {
				ev.Outcome, ev.Reason = "refused", err.Error()
				log.Error("reload refused; the old config keeps serving", "error", err.Error())
			} else {
				log.Info("config reloaded", "version", v)
			}
			if aerr := auditLog.Record(ctx, ev); aerr != nil {
				log.Error("record reload", "error", aerr.Error())
			}
		}
	}()

	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down; letting runs in flight finish", "timeout", cfg.Server.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if rt := srv.Runtime(); rt.Close != nil {
		rt.Close()
	}
	return nil
}

func usesBuiltin(cfg *config.Config) bool {
	for _, t := range cfg.Tools {
		if t.Type == "builtin" {
			return true
		}
	}
	return false
}

// openAudit opens the store and the log; the returned func closes both.
func openAudit(ctx context.Context, cfg *config.Config, getenv func(string) string, log *slog.Logger) (*audit.Log, audit.Store, func(), error) {
	st, err := store.OpenAudit(ctx, cfg.Audit.DSN)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("open audit log: %w", err)
	}
	ac := audit.Config{
		Store: st, ChainID: chainID(cfg), ContentMode: audit.ContentMode(cfg.Audit.Content), CommitTimeout: cfg.Audit.CommitTimeout,
		CheckpointEvery: cfg.Audit.CheckpointEvery, CheckpointInterval: cfg.Audit.CheckpointInterval, Logger: log,
	}
	if cfg.Audit.Content == "hmac" {
		key, err := hmacKey(cfg, getenv)
		if err != nil {
			st.Close()
			return nil, nil, nil, err
		}
		ac.HMACKey = key
	}
	if cfg.Audit.CheckpointKeyFile != "" {
		k, err := audit.LoadOrCreateKey(cfg.Audit.CheckpointKeyFile)
		if err != nil {
			st.Close()
			return nil, nil, nil, fmt.Errorf("audit.checkpoint_key_file: %w", err)
		}
		ac.CheckpointKey = k
	}
	l, err := audit.New(ac)
	if err != nil {
		st.Close()
		return nil, nil, nil, fmt.Errorf("open audit log: %w", err)
	}
	return l, st, func() { l.Close(); st.Close() }, nil
}

// hmacKey returns the audit HMAC key: from the environment variable named by
// audit.hmac_key_env, else from audit.hmac_key_file (made on first use).
func hmacKey(cfg *config.Config, getenv func(string) string) ([]byte, error) {
	if v := getenv(cfg.Audit.HMACKeyEnv); v != "" {
		if len(v) < 16 {
			return nil, fmt.Errorf("audit: $%s must hold at least 16 bytes", cfg.Audit.HMACKeyEnv)
		}
		return []byte(v), nil
	}
	path := cfg.Audit.HMACKeyFile
	if path == "" {
		return nil, fmt.Errorf("audit.content is hmac: set $%s (audit.hmac_key_env) or audit.hmac_key_file", cfg.Audit.HMACKeyEnv)
	}
	if b, err := os.ReadFile(path); err == nil {
		return []byte(strings.TrimSpace(string(b))), nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("audit.hmac_key_file: %w", err)
	}
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	enc := fmt.Sprintf("%x", k)
	if err := os.WriteFile(path, []byte(enc+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("audit.hmac_key_file: %w", err)
	}
	return []byte(enc), nil
}

// extraRoutes are public well-known documents.
func extraRoutes(cfg *config.Config, dev bool, dataDir string) map[string]http.Handler {
	m := map[string]http.Handler{}
	if dev {
		m["GET /.well-known/jwks.json"] = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, err := os.ReadFile(dataDir + "/" + devJWKSName)
			if err != nil {
				http.Error(w, `{"error":"unavailable"}`, http.StatusServiceUnavailable)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write(b)
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

func buildMTLS(cfg *config.Config) (*mtls.Authenticator, error) {
	ids := make([]mtls.Identity, 0, len(cfg.Auth.MTLS.Identities))
	for _, id := range cfg.Auth.MTLS.Identities {
		ids = append(ids, mtls.Identity{Match: id.Match, Roles: id.Roles})
	}
	a, err := mtls.New(ids)
	if err != nil {
		return nil, fmt.Errorf("auth.mtls: %w", err)
	}
	return a, nil
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

// chainID is audit.chain_id, else "main" for SQLite — one process owns the
// file, so its chain continues across restarts — and a random id per process
// for PostgreSQL, where several replicas write one log.
func chainID(cfg *config.Config) string {
	if cfg.Audit.ChainID != "" {
		return cfg.Audit.ChainID
	}
	if strings.HasPrefix(cfg.Audit.DSN, "sqlite://") {
		return "main"
	}
	return ""
}

// checkpointPublicKey is the public half of the checkpoint key, the only key
// /admin/audit/verify accepts checkpoints from; nil when there is none.
func checkpointPublicKey(cfg *config.Config) ed25519.PublicKey {
	if cfg.Audit.CheckpointKeyFile == "" {
		return nil
	}
	k, err := audit.LoadKey(cfg.Audit.CheckpointKeyFile)
	if err != nil {
		return nil
	}
	return k.Public().(ed25519.PublicKey)
}
