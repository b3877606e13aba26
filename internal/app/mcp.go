package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"sync"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/config"
	mcpclient "github.com/gatehousehq/gatehouse/internal/mcp/client"
)

// mcpSources keeps the MCP servers' supervisors across reloads: a reload
// that leaves a server's settings alone keeps its connection (and its
// process), one that changes them starts a new one. All stop with Close.
//
// At start, /ready waits for the servers of the first config (awaitStart);
// a server that a reload adds or restarts does not make a ready gatehouse
// unready: every replica reloads at about the same time, and taking them
// all out of service for a server's start would stop every run, not only
// those that need its tools. /ready names such a server "starting" meanwhile.
type mcpSources struct {
	log   *slog.Logger
	audit audit.Sink

	mu      sync.Mutex
	sources map[string]*mcpSource // by server name
	// awaited are the servers /ready still waits for, by name: set once by
	// awaitStart, each removed when its first connection attempt ends.
	awaited map[string]*mcpclient.Source
}

type mcpSource struct {
	cfg config.MCPServer
	src *mcpclient.Source
}

func newMCPSources(log *slog.Logger, sink audit.Sink) *mcpSources {
	return &mcpSources{log: log, audit: sink, sources: map[string]*mcpSource{}}
}

// get returns the running source of server name with settings cfg,
// starting it when it is new or its settings changed.
func (m *mcpSources) get(name string, cfg config.MCPServer) (*mcpclient.Source, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.sources[name]; ok {
		if sameMCP(s.cfg, cfg) {
			return s.src, nil
		}
		// Replaced: the old runtime's calls fail with a clear error from now on.
		go s.src.Close()
		delete(m.sources, name)
	}
	src, err := mcpclient.New(clientConfig(name, cfg, m.log))
	if err != nil {
		return nil, err
	}
	src.Start(m.recordChange)
	m.sources[name] = &mcpSource{cfg: cfg, src: src}
	return src, nil
}

func clientConfig(name string, cfg config.MCPServer, log *slog.Logger) mcpclient.Config {
	return mcpclient.Config{
		Name: name, URL: cfg.URL, Headers: cfg.Headers, Command: cfg.Command, Env: cfg.Env,
		RefreshInterval: cfg.RefreshInterval, CallTimeout: cfg.CallTimeout, StderrBytes: cfg.StderrBytes,
		RestartMin: cfg.RestartMin, RestartMax: cfg.RestartMax, StartTimeout: cfg.StartTimeout, Log: log,
	}
}

// sameMCP says whether a and b connect alike (start_timeout matters only
// at start: changing it keeps the connection).
func sameMCP(a, b config.MCPServer) bool {
	a.StartTimeout, b.StartTimeout = 0, 0
	// Call credentials are per call, given by the runtime's tools.
	a.CallToken, b.CallToken, a.TokenExchange, b.TokenExchange = nil, nil, nil, nil
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// recordChange records an MCP tool that changed since its pin.
func (m *mcpSources) recordChange(c mcpclient.Change) {
	reason := fmt.Sprintf("MCP server %s presents tool %s as %s, pinned %s: disabled", c.Server, c.Remote, c.Got, c.Want)
	if c.Got == "" {
		reason = fmt.Sprintf("MCP server %s no longer offers tool %s (pinned %s): disabled", c.Server, c.Remote, c.Want)
	}
	ev := audit.Event{Type: audit.TypeMCPToolChanged, Resource: "tool:" + c.Tool, Decision: audit.Deny,
		Rule: "pin of " + c.Tool, Reason: reason, Outcome: "disabled"}
	if m.audit == nil {
		return
	}
	if err := m.audit.Record(context.Background(), ev); err != nil {
		m.log.Error("record mcp.tool_changed", "tool", c.Tool, "error", err.Error())
	}
}

// awaitStart makes /ready wait for the first connection attempt of every
// server running now (those of the config gatehouse started with).
func (m *mcpSources) awaitStart() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.awaited = map[string]*mcpclient.Source{}
	for name, s := range m.sources {
		m.awaited[name] = s.src
	}
}

// Starting names, sorted, the awaited servers whose first connection
// attempt has not ended (nor their start_timeout passed): while any is,
// /ready answers 503.
func (m *mcpSources) Starting() []string {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for name, src := range m.awaited {
		select {
		case <-src.Started():
			delete(m.awaited, name) // for good: readiness does not go back
		default:
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Status reports every server, sorted by name.
func (m *mcpSources) Status() []mcpclient.Status {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]mcpclient.Status, 0, len(m.sources))
	for _, s := range m.sources {
		out = append(out, s.src.Status())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Close stops every server.
func (m *mcpSources) Close() {
	if m == nil {
		return
	}
	m.mu.Lock()
	srcs := m.sources
	m.sources = map[string]*mcpSource{}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range srcs {
		wg.Add(1)
		go func() { defer wg.Done(); s.src.Close() }()
	}
	wg.Wait()
}
