package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/config"
)

// Check validates the config at path exactly as a reload would — schema,
// roles, tool names, CEL conditions, tool schemas, HTTP tool templates —
// without opening stores, fetching keys or serving; then it lists the tools
// of each MCP server a type: mcp tool uses and compares them with their
// pins. It returns a summary and the config's PolicyWarnings.
func Check(ctx context.Context, path string, getenv func(string) string) (summary string, warnings []string, _ error) {
	getenv = WithSelf(getenv)
	cfg, err := config.Load(path, getenv)
	if err != nil {
		return "", nil, err
	}
	if f := cfg.Audit.CheckpointPublicKeyFile; f != "" {
		if _, err := audit.LoadPublicKey(f); err != nil {
			return "", nil, fmt.Errorf("audit.checkpoint_public_key_file: %w", err)
		}
	}
	rt, err := buildRuntime(ctx, cfg, wiring{getenv: getenv, log: slog.New(slog.DiscardHandler), checkOnly: true})
	if err != nil {
		return "", nil, cfg.Redact(err)
	}
	if rt.Close != nil {
		rt.Close()
	}
	if problems := checkMCPPins(ctx, cfg); len(problems) > 0 {
		return "", nil, errors.New(strings.Join(problems, "\n"))
	}
	summary = fmt.Sprintf("%d agents, %d tools, %d roles", len(cfg.Agents), len(cfg.Tools), len(cfg.Authz.Roles))
	return summary, PolicyWarnings(cfg), nil
}
