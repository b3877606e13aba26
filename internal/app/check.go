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
// pins. It returns a summary.
func Check(ctx context.Context, path string, getenv func(string) string) (string, error) {
	getenv = WithSelf(getenv)
	cfg, err := config.Load(path, getenv)
	if err != nil {
		return "", err
	}
	if f := cfg.Audit.CheckpointPublicKeyFile; f != "" {
		if _, err := audit.LoadPublicKey(f); err != nil {
			return "", fmt.Errorf("audit.checkpoint_public_key_file: %w", err)
		}
	}
	rt, err := buildRuntime(ctx, cfg, wiring{getenv: getenv, log: slog.New(slog.DiscardHandler), checkOnly: true})
	if err != nil {
		return "", cfg.Redact(err)
	}
	if rt.Close != nil {
		rt.Close()
	}
	if problems := checkMCPPins(ctx, cfg); len(problems) > 0 {
		return "", errors.New(strings.Join(problems, "\n"))
	}
	return fmt.Sprintf("%d agents, %d tools, %d roles", len(cfg.Agents), len(cfg.Tools), len(cfg.Authz.Roles)), nil
}
