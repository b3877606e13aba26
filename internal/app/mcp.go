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
type mcpSources struct {
	log   *slog.Logger
	audit audit.Sink

	mu      sync.Mutex
	sources map[string]*mcpSource // by server name
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
		RestartMin: cfg.RestartMin, RestartMax: cfg.RestartMax, Log: log,
	}
}

func sameMCP(a, b config.MCPServer) bool {
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
