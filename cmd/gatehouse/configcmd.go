package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/gatehousehq/gatehouse/internal/config"
)

// runConfig serves `gatehouse config check FILE`: everything a reload would
// check (schema, roles, tool names, CEL conditions, tool schemas, HTTP tool
// templates), without opening stores or serving.
func runConfig(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) != 2 || args[0] != "check" {
		fmt.Fprintln(stderr, "usage: gatehouse config check FILE")
		return errUsage
	}
	cfg, err := config.Load(args[1], getenv)
	if err != nil {
		return fmt.Errorf("%s: invalid:\n%w", args[1], err)
	}
	w := wiring{getenv: getenv, log: slog.New(slog.DiscardHandler), checkOnly: true}
	rt, err := buildRuntime(ctx, cfg, w)
	if err != nil {
		return fmt.Errorf("%s: invalid:\n%w", args[1], err)
	}
	if rt.Close != nil {
		rt.Close()
	}
	fmt.Fprintf(stdout, "%s: ok (%d agents, %d tools, %d roles)\n", args[1], len(cfg.Agents), len(cfg.Tools), len(cfg.Authz.Roles))
	return nil
}
