// Package httpapi is gatehouse's HTTP interface: routes, authentication and
// authorization middleware, request decoding and the one mapping of errors to
// statuses.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehousehq/gatehouse/internal/agent"
	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/authn"
	"github.com/gatehousehq/gatehouse/internal/authz"
	"github.com/gatehousehq/gatehouse/internal/session"
)

// Runtime is everything a config produces. A request uses the Runtime it
// started with, so a reload never changes a run in flight.
type Runtime struct {
	Authn              *authn.Chain
	Perms              *authz.Permissions
	Runner             *agent.Runner
	Agents             map[string]*agent.Agent
	DefaultAgent       string
	InvalidTokenStatus int // 401 or 403
	MaxBodyBytes       int64
	RequestTimeout     time.Duration
	Limiter            *RateLimiter // nil: no rate limit
	// RunSlots bounds runs in flight (a buffered channel); nil: unbounded.
	RunSlots chan struct{}
	// ResourceMetadataURL, when set, is advertised on 401s (RFC 9728).
	ResourceMetadataURL string
	// Close releases what the runtime holds (key refreshers); called once a
	// reload has replaced it.
	Close func()
}

// Deps are the long-lived parts the handlers need.
type Deps struct {
	Log   *slog.Logger
	Audit audit.Sink
	// AuthFailures records authentication failures without blocking the
	// request; it is bounded so a flood cannot drown the audit writer.
	AuthFailures func(context.Context, audit.Event) error
	Sessions     session.Store
	// Reload builds a new Runtime from the current config source.
	Reload func(ctx context.Context) (*Runtime, error)
	// Ready reports whether the audit store accepts writes.
	Ready func(ctx context.Context) error
	// Extra routes (e.g. JWKS or audit queries) mounted as given.
	Extra map[string]http.Handler
}

// Server serves the API.
type Server struct {
	Deps
	log     *slog.Logger
	rt      atomic.Pointer[Runtime]
	version atomic.Int64
	mu      sync.Mutex // serializes reloads

	protected []protectedRoute
}

// New returns a server serving rt.
func New(d Deps, rt *Runtime) *Server {
	s := &Server{Deps: d, log: d.Log}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.rt.Store(rt)
	s.version.Store(1)
	return s
}

// Runtime returns the runtime new requests use.
func (s *Server) Runtime() *Runtime { return s.rt.Load() }

// Version is the config version, starting at 1 and counting reloads.
func (s *Server) Version() int64 { return s.version.Load() }

// Reload builds a new runtime and swaps it in; on error the old one keeps
// serving. Runs in flight keep the runtime they started with.
func (s *Server) Reload(ctx context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, err := s.Deps.Reload(ctx)
	if err != nil {
		return s.version.Load(), err
	}
	old := s.rt.Swap(rt)
	if old != nil && old.Close != nil {
		old.Close()
	}
	return s.version.Add(1), nil
}
