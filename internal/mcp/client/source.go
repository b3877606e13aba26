// Package client connects gatehouse to MCP servers as tool sources: one
// Source per configured server (streamable HTTP, or a stdio process that it
// starts, restarts with backoff and stops), and Tool, the tools.Tool of one
// declared type: mcp tool. A declared tool is offered only while the server
// presents it exactly as pinned; anything else disables it and is reported
// once as a Change.
package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Config is one server. Exactly one of URL and Command is set.
type Config struct {
	Name string
	// URL is a streamable HTTP endpoint; Headers are sent with every
	// request (the server's own credentials — never a caller's).
	URL     string
	Headers map[string]string
	// Command is a stdio server, started with only Env and a few harmless
	// variables of gatehouse's own environment (PATH, HOME, ...): gatehouse's
	// secrets are not the server's.
	Command []string
	Env     map[string]string

	RefreshInterval time.Duration
	CallTimeout     time.Duration
	StderrBytes     int
	RestartMin      time.Duration
	RestartMax      time.Duration
	// StartTimeout bounds how long Started waits for the first connection
	// attempt (default 30s): a server that never answers must not keep
	// gatehouse unready for ever.
	StartTimeout time.Duration
	Log          *slog.Logger
	// HTTPClient is used for URL servers; nil: a client with CallTimeout.
	HTTPClient *http.Client
}

// Source is one MCP server as a tool source. Its supervisor goroutine owns
// the connection: it connects, lists the tools, re-lists them every
// RefreshInterval and reconnects (restarting a stdio server) with backoff
// when the connection ends or a listing fails. Calls use whatever session
// is up; they never wait for one.
type Source struct {
	cfg    Config
	stderr *Ring // nil for HTTP servers

	mu sync.Mutex
	// Guarded by mu; written by the supervisor goroutine.
	session  *mcp.ClientSession // nil while down
	listed   map[string]*mcp.Tool
	lastErr  string
	restarts int
	up       bool
	// Guarded by mu; the declared tools and what the listings said of them.
	decls    map[string]Decl
	baseline map[string]string // remote name -> pin first seen (for unpinned tools)
	states   map[string]ToolState
	reported map[string]string // gatehouse name -> pin last reported as changed
	onChange func(Change)
	refresh  chan struct{}

	cancel context.CancelFunc
	done   chan struct{}
	// started is closed once the first connection attempt has ended (see
	// Started); startOnce closes it.
	started   chan struct{}
	startOnce sync.Once
}

// Decl is a type: mcp tool as the config declares it.
type Decl struct {
	Name   string // the gatehouse name
	Remote string // the name on the server
	Pin    string // "" pins the first listing seen by this process
}

// ToolState is a declared tool as of the latest listing.
type ToolState struct {
	Tool *mcp.Tool // the latest listing of it; nil when never listed
	Pin  string
	// Disabled says why the tool may not be offered or called ("" when it may).
	Disabled string
}

// Change is a declared tool that the server now presents differently from
// its pin (or no longer presents: Got is "").
type Change struct {
	Server, Tool, Remote string
	Want, Got            string
}

// Status is a server's health for /ready and the server log.
type Status struct {
	Name     string            `json:"name"`
	Up       bool              `json:"up"`
	Starting bool              `json:"starting,omitempty"` // the first connection attempt has not ended
	Error    string            `json:"error,omitempty"`
	Restarts int               `json:"restarts"`
	Tools    int               `json:"tools"`
	Disabled map[string]string `json:"disabled,omitempty"`
}

// ErrDown is what calls to a server that is not connected return.
var ErrDown = errors.New("MCP server is not connected")

// New validates cfg and returns a Source that is not started.
func New(cfg Config) (*Source, error) {
	if (cfg.URL == "") == (len(cfg.Command) == 0) {
		return nil, fmt.Errorf("mcp server %s: needs exactly one of url and command", cfg.Name)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = time.Minute
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = time.Minute
	}
	if cfg.RestartMin <= 0 {
		cfg.RestartMin = 500 * time.Millisecond
	}
	if cfg.RestartMax < cfg.RestartMin {
		cfg.RestartMax = max(30*time.Second, cfg.RestartMin)
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 30 * time.Second
	}
	s := &Source{cfg: cfg, decls: map[string]Decl{}, baseline: map[string]string{}, states: map[string]ToolState{},
		reported: map[string]string{}, refresh: make(chan struct{}, 1), done: make(chan struct{}), started: make(chan struct{})}
	if len(cfg.Command) > 0 {
		n := cfg.StderrBytes
		if n <= 0 {
			n = 16 << 10
		}
		s.stderr = NewRing(n)
	}
	return s, nil
}

// Name is the server's configured name.
func (s *Source) Name() string { return s.cfg.Name }

// Start starts the supervisor. It returns at once: a server that is slow,
// down or hanging delays nothing but its own tools.
func (s *Source) Start(onChange func(Change)) {
	ctx, cancel := context.WithCancel(context.Background())
	s.mu.Lock()
	s.onChange, s.cancel = onChange, cancel
	s.mu.Unlock()
	timer := time.AfterFunc(s.cfg.StartTimeout, s.markStarted)
	go func() { <-s.started; timer.Stop() }()
	go s.supervise(ctx)
}

// Started is closed once the first connection attempt has ended: the tools
// are listed, or connecting or listing failed. It is closed too when
// StartTimeout has passed since Start, or the source is closed, whichever
// comes first. /ready waits for it.
func (s *Source) Started() <-chan struct{} { return s.started }

func (s *Source) markStarted() { s.startOnce.Do(func() { close(s.started) }) }

func (s *Source) starting() bool {
	select {
	case <-s.started:
		return false
	default:
		return true
	}
}

// Close stops the supervisor and the server process, and waits for both.
func (s *Source) Close() {
	s.mu.Lock()
	cancel := s.cancel
	s.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-s.done
}

// Refresh asks the supervisor to list the tools again now.
func (s *Source) Refresh() {
	select {
	case s.refresh <- struct{}{}:
	default:
	}
}

// Stderr returns the latest bytes the stdio server wrote to stderr.
func (s *Source) Stderr() string {
	if s.stderr == nil {
		return ""
	}
	return s.stderr.String()
}

// Status reports the server's health and its disabled tools.
func (s *Source) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{Name: s.cfg.Name, Up: s.up, Starting: s.starting(), Error: s.lastErr, Restarts: s.restarts, Tools: len(s.listed)}
	for name, ts := range s.states {
		if ts.Disabled != "" {
			if st.Disabled == nil {
				st.Disabled = map[string]string{}
			}
			st.Disabled[name] = ts.Disabled
		}
	}
	return st
}

func (s *Source) supervise(ctx context.Context) {
	defer close(s.done)
	defer s.markStarted()
	backoff := s.cfg.RestartMin
	for {
		started := time.Now()
		err := s.connectAndServe(ctx)
		if ctx.Err() != nil {
			s.setDown(errors.New("stopped"))
			return
		}
		s.setDown(err)
		s.markStarted() // the first attempt failed (or, listed, has ended since): its error shows
		s.cfg.Log.Warn("MCP server down; reconnecting", "server", s.cfg.Name, "error", err.Error(), "in", backoff.String())
		if time.Since(started) > s.cfg.RestartMax {
			backoff = s.cfg.RestartMin // it was up for a while: start again from the shortest wait
		}
		select {
		case <-ctx.Done():
			s.setDown(errors.New("stopped"))
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, s.cfg.RestartMax)
		s.mu.Lock()
		s.restarts++
		s.mu.Unlock()
	}
}

// connectAndServe runs one connection: connect, list, then re-list until
// the connection ends, a listing fails or ctx ends.
func (s *Source) connectAndServe(ctx context.Context) error {
	t, stop := s.transport()
	defer stop()
	c := mcp.NewClient(&mcp.Implementation{Name: "gatehouse", Version: "1"}, &mcp.ClientOptions{
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) { s.Refresh() },
	})
	cctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	sess, err := c.Connect(cctx, t, nil)
	cancel()
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer sess.Close()
	if err := s.list(ctx, sess); err != nil {
		return err
	}
	s.mu.Lock()
	s.session, s.up, s.lastErr = sess, true, ""
	s.mu.Unlock()
	s.markStarted()
	ended := make(chan error, 1)
	go func() { ended <- sess.Wait() }()
	tick := time.NewTicker(s.cfg.RefreshInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-ended:
			if err == nil {
				err = errors.New("the connection closed")
			}
			return fmt.Errorf("connection ended: %w", err)
		case <-tick.C:
		case <-s.refresh:
		}
		if err := s.list(ctx, sess); err != nil {
			return err
		}
	}
}

func (s *Source) setDown(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.session, s.up = nil, false
	s.lastErr = err.Error()
}
