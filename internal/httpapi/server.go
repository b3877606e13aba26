// Package httpapi is gatehouse's HTTP interface: routes, authentication and
// authorization middleware, request decoding and the one mapping of errors to
// statuses.
package httpapi

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/gatehousehq/gatehouse/internal/agent"
	"github.com/gatehousehq/gatehouse/internal/approval"
	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/authn"
	"github.com/gatehousehq/gatehouse/internal/authz"
	"github.com/gatehousehq/gatehouse/internal/chat"
	"github.com/gatehousehq/gatehouse/internal/console"
	"github.com/gatehousehq/gatehouse/internal/gate"
	"github.com/gatehousehq/gatehouse/internal/logbound"
	mcpserver "github.com/gatehousehq/gatehouse/internal/mcp/server"
	"github.com/gatehousehq/gatehouse/internal/passthrough"
	"github.com/gatehousehq/gatehouse/internal/policytest"
	"github.com/gatehousehq/gatehouse/internal/runs"
	"github.com/gatehousehq/gatehouse/internal/session"
)

// Runtime is everything a config produces. A request uses the Runtime it
// started with, so a reload never changes a run in flight.
type Runtime struct {
	Authn  *authn.Chain
	Perms  *authz.Permissions
	Runner *agent.Runner
	// Gate decides every tool call of every door; Exec runs allowed ones.
	Gate   *gate.Gate
	Exec   *gate.Executor
	Agents map[string]*agent.Agent
	// Tools are every configured tool, for the policy view (the role ×
	// tool matrix and explain).
	Tools map[string]*agent.Tool
	// ConsoleOIDC is the console's OIDC sign-in; zero: keys and tokens only.
	ConsoleOIDC        console.OIDC
	DefaultAgent       string
	InvalidTokenStatus int // 401 or 403
	MaxBodyBytes       int64
	// SessionMaxMessages and SessionMaxBytes bound a session's stored
	// history; a chat continuing a fuller one gets 409 session_full.
	SessionMaxMessages int
	SessionMaxBytes    int64
	RequestTimeout     time.Duration
	Limiter            Limiter // nil: no rate limit
	// MaxConcurrentRuns bounds the runs in flight on the whole server,
	// whichever config they started with; 0: unbounded.
	MaxConcurrentRuns int
	// ResourceMetadataURL, when set, is advertised on 401s (RFC 9728), and
	// ResourceMetadata serves that document at
	// jwtauth.ProtectedResourceMetadataPath. Both
	// come with the runtime, so a reload that adds, changes or removes JWT
	// issuers changes what is served.
	ResourceMetadataURL string
	ResourceMetadata    http.Handler
	// CallTokenJWKS is the public key set of the call tokens this
	// runtime signs (nil: none), served at /.well-known/jwks.json; a
	// reload with a rotated key file publishes the new and previous keys.
	CallTokenJWKS []byte
	// ServedTools are the tools gatehouse runs (every type but client),
	// offered on /mcp in ToolOrder.
	ServedTools map[string]*agent.Tool
	ToolOrder   []string
	// Passthrough governs pass-through models; nil when none are configured.
	Passthrough *passthrough.Service
	// Loaded is when the config was loaded (the models' "created").
	Loaded time.Time
	// Close releases what the runtime holds (key refreshers); called once a
	// reload has replaced it and the last request using it has ended.
	Close func()
}

// live is a Runtime in service: requests pin it for their whole length, so
// a reload retires it but closes it only when the last of them ends.
type live struct {
	rt        *Runtime
	chat      *chat.Service // built from rt
	mu        sync.Mutex
	users     int
	retired   bool
	closeOnce sync.Once
}

func (l *live) close() {
	l.closeOnce.Do(func() {
		if l.rt.Close != nil {
			l.rt.Close()
		}
	})
}

// release ends one request's use; the last user of a retired runtime closes it.
func (l *live) release() {
	l.mu.Lock()
	l.users--
	last := l.retired && l.users == 0
	l.mu.Unlock()
	if last {
		l.close()
	}
}

// retire marks l replaced, closing it now if no request uses it.
func (l *live) retire() {
	l.mu.Lock()
	l.retired = true
	idle := l.users == 0
	l.mu.Unlock()
	if idle {
		l.close()
	}
}

// Deps are the long-lived parts the handlers need.
type Deps struct {
	Log   *slog.Logger
	Audit audit.Sink
	// AuthFailures records authentication failures without blocking the
	// request; it is bounded so a flood cannot drown the audit writer.
	AuthFailures func(context.Context, audit.Event) error
	Sessions     session.Store
	// Responses keeps stored responses (POST /v1/responses with store);
	// nil: none are kept, and GET /v1/responses/{id} is 404.
	Responses session.ResponseStore
	// Reload builds a new Runtime from the current config source.
	Reload func(ctx context.Context) (*Runtime, error)
	// DryRun reports what reloading the current config source would change
	// in the policy of running (replaying the decisions recorded since
	// since), applying nothing; nil when it cannot (no audit log).
	DryRun func(ctx context.Context, running *Runtime, since time.Duration) (*policytest.Diff, error)
	// Ready reports whether the audit store accepts writes.
	Ready func(ctx context.Context) error
	// MCPStatus, when set, is the MCP servers' health for /ready's detail:
	// a server that is down is named there, without making gatehouse unready.
	MCPStatus func() any
	// WitnessStatus, when set, is the audit log's witnessing for /ready's
	// detail: the lag is named there, never making gatehouse unready (a
	// witness that is down stops no run).
	WitnessStatus func(ctx context.Context) any
	// MCPStarting, when set, names the MCP servers whose first connection
	// attempt since start has not ended: while it names any, /ready
	// answers 503 (their tools are not offered yet).
	MCPStarting func() []string
	// AuditLog answers /admin/audit and /admin/audit/verify; nil: those
	// routes are not served.
	AuditLog audit.Store
	// CheckpointKey is the only key /admin/audit/verify accepts checkpoints
	// from; nil: none is pinned.
	CheckpointKey ed25519.PublicKey
	// DevJWKS, when set (dev mode), is the dev issuer's key set, served at
	// /.well-known/jwks.json.
	DevJWKS []byte
	// ApprovalStore keeps paused runs and their approvals; nil: no tool
	// may need approval (routes answer 404). The server's approval
	// service (Approvals) decides them and moves paused runs along.
	ApprovalStore approval.Store
	// Tracer makes each request's span; nil: none.
	Tracer trace.Tracer
	// Metrics observes requests and authentication failures; nil: none.
	Metrics Observer
	// MetricsHandler, when set, is served at GET /metrics to callers with
	// the metrics permission (when server.metrics_addr gives it no
	// listener of its own).
	MetricsHandler http.Handler
}

// Observer is told what the API serves, for metrics. Its label values are
// bounded: route is a mux pattern, method and reason are from short fixed
// lists.
type Observer interface {
	Request(route string, status int, d time.Duration)
	AuthFailed(method, reason string)
}

// Server serves the API.
type Server struct {
	// runs counts runs in flight across reloads.
	runs runs.InFlight
	Deps
	// approvals is nil without an ApprovalStore.
	approvals *approval.Service
	log       *slog.Logger
	cur       atomic.Pointer[live]
	version   atomic.Int64
	mu        sync.Mutex // serializes reloads
}

// New returns a server serving rt.
func New(d Deps, rt *Runtime) *Server {
	s := &Server{Deps: d, log: slog.New(slog.DiscardHandler)}
	if d.Log != nil {
		// Request values (method, subject, error texts) reach the log:
		// each line is bounded whatever the caller sent.
		s.log = slog.New(logbound.New(d.Log.Handler()))
	}
	if d.ApprovalStore != nil {
		s.approvals = &approval.Service{Store: d.ApprovalStore, Audit: d.Audit, Log: s.log, Now: time.Now,
			Continuers: s, ResumeLease: time.Minute}
	}
	s.cur.Store(s.newLive(rt))
	s.version.Store(1)
	return s
}

// Approvals is the server's approval service (nil without an approval
// store): sweep it periodically, and Wait for it on shutdown.
func (s *Server) Approvals() *approval.Service { return s.approvals }

// Continuer is the live config's continuation of a kind of paused run
// (approval.Continuers); done releases the config it belongs to.
func (s *Server) Continuer(kind approval.RunKind) (approval.Continuer, func()) {
	l := s.acquire()
	var c approval.Continuer
	switch kind {
	case approval.KindAgent:
		c = l.chat
	case approval.KindPassthrough:
		if l.rt.Passthrough != nil {
			c = l.rt.Passthrough
		}
	case approval.KindMCP:
		c = &mcpserver.Continuer{Tools: l.rt.ServedTools, Gate: l.rt.Gate, Exec: l.rt.Exec, Audit: s.Audit}
	}
	return c, l.release
}

// newLive puts rt in service, with the chat service its config makes.
func (s *Server) newLive(rt *Runtime) *live {
	return &live{rt: rt, chat: chat.New(chat.Config{
		Sessions: s.Sessions, Runner: rt.Runner, Agents: rt.Agents, DefaultAgent: rt.DefaultAgent,
		Limits: session.Limits{MaxMessages: rt.SessionMaxMessages, MaxBytes: rt.SessionMaxBytes},
		Door:   s.door(rt),
		Audit:  s.Audit, Log: s.log, Approvals: s.ApprovalStore,
	})}
}

// door is the front door of rt's runs: its bound, counted across reloads.
func (s *Server) door(rt *Runtime) *runs.Door {
	return &runs.Door{InFlight: &s.runs, Max: rt.MaxConcurrentRuns}
}

// RunsInFlight is the number of runs in flight, whichever config they
// started with.
func (s *Server) RunsInFlight() int64 { return s.runs.Count() }

// Runtime returns the runtime new requests use.
func (s *Server) Runtime() *Runtime { return s.cur.Load().rt }

// acquire pins the current runtime for one request; release it when done.
func (s *Server) acquire() *live {
	for {
		l := s.cur.Load()
		l.mu.Lock()
		if !l.retired {
			l.users++
			l.mu.Unlock()
			return l
		}
		// Retired after the load: a reload has already stored its successor.
		l.mu.Unlock()
	}
}

// Close retires the current runtime: it is closed once no request uses it.
// For shutdown, after the HTTP server has stopped.
func (s *Server) Close() { s.cur.Load().retire() }

// Version is the config version, starting at 1 and counting reloads.
func (s *Server) Version() int64 { return s.version.Load() }

// ErrReloadNotRecorded marks a reload refused because its audit event could
// not be written; the error also wraps the audit log's.
var ErrReloadNotRecorded = errors.New("reload not recorded")

// Reload builds a new runtime, records the attempt for by (a request's
// principal and id, or a signal) with recordReload, and only then swaps the
// new runtime in: a reload whose audit event cannot be written does not
// happen (ErrReloadNotRecorded). On any error the old runtime keeps serving.
// Requests in flight keep the runtime they started with, which is closed
// when the last of them ends.
func (s *Server) Reload(ctx context.Context, by audit.Event) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, err := s.Deps.Reload(ctx)
	if rerr := s.recordReload(ctx, by, err); rerr != nil {
		if err == nil && rt.Close != nil {
			rt.Close()
		}
		return s.version.Load(), fmt.Errorf("%w: %w", ErrReloadNotRecorded, rerr)
	}
	if err != nil {
		return s.version.Load(), err
	}
	s.cur.Swap(s.newLive(rt)).retire()
	return s.version.Add(1), nil
}

// recordReload is the one record of a reload attempt, whoever asked for it
// (POST /admin/reload or SIGHUP): by names the asker, buildErr why the new
// config was refused, if it was.
func (s *Server) recordReload(ctx context.Context, by audit.Event, buildErr error) error {
	ev := by
	ev.Type, ev.Resource, ev.Outcome = audit.TypeConfigReloaded, "config", "ok"
	if buildErr != nil {
		ev.Outcome, ev.Reason = "refused", buildErr.Error()
	}
	return s.Audit.Record(ctx, ev)
}
