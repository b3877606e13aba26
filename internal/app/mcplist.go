package app

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/gatehousehq/gatehouse/internal/config"
	mcpclient "github.com/gatehousehq/gatehouse/internal/mcp/client"
)

// MCPList connects to the MCP server named server in the config at path
// and returns its tools as ready-to-paste lines for tools:, with their pins.
func MCPList(ctx context.Context, path, server string, getenv func(string) string) ([]string, error) {
	cfg, err := config.Load(path, WithSelf(getenv))
	if err != nil {
		return nil, err
	}
	sc, ok := cfg.MCPServers[server]
	if !ok {
		return nil, fmt.Errorf("no mcp_servers entry is named %q", server)
	}
	ts, err := mcpclient.List(ctx, clientConfig(server, sc, slog.New(slog.DiscardHandler)))
	if err != nil {
		return nil, err
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	var lines []string
	for _, t := range ts {
		line := fmt.Sprintf("%s_%s: {type: mcp, server: %s, tool: %s, permission: %s.use, pin: %q}",
			server, toolName(t.Name), server, t.Name, server, mcpclient.Pin(t))
		if desc := strings.TrimSpace(strings.SplitN(t.Description, "\n", 2)[0]); desc != "" {
			line += "  # " + desc
		}
		lines = append(lines, line)
	}
	return lines, nil
}

// toolName fits a server's tool name to gatehouse's tool-name rule.
func toolName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == '_' || r == '-' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// checkMCPPins connects to each MCP server a type: mcp tool uses and says
// which declared tools it no longer presents as pinned (config check
// against the running servers). Servers that cannot be reached are named.
func checkMCPPins(ctx context.Context, cfg *config.Config) []string {
	var problems []string
	byServer := map[string][]string{}
	for name, t := range cfg.Tools {
		if t.Type == "mcp" {
			byServer[t.Server] = append(byServer[t.Server], name)
		}
	}
	servers := make([]string, 0, len(byServer))
	for s := range byServer {
		servers = append(servers, s)
	}
	sort.Strings(servers)
	for _, server := range servers {
		ts, err := mcpclient.List(ctx, clientConfig(server, cfg.MCPServers[server], slog.New(slog.DiscardHandler)))
		if err != nil {
			problems = append(problems, fmt.Sprintf("mcp_servers.%s: %v", server, err))
			continue
		}
		pins := map[string]string{}
		for _, t := range ts {
			pins[t.Name] = mcpclient.Pin(t)
		}
		names := byServer[server]
		sort.Strings(names)
		for _, name := range names {
			t := cfg.Tools[name]
			got, ok := pins[t.MCPTool]
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("tools.%s: server %s offers no tool %s", name, server, t.MCPTool))
			case t.Pin != "" && got != t.Pin:
				problems = append(problems, fmt.Sprintf("tools.%s.pin: server %s presents %s as %s (changed since pinned; the tool would be disabled)", name, server, t.MCPTool, got))
			}
		}
	}
	return problems
}
