package main

import (
	"context"
	"fmt"
	"io"

	"github.com/gatehousehq/gatehouse/internal/app"
)

// runConfig serves `gatehouse config check FILE`.
func runConfig(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) != 2 || args[0] != "check" {
		fmt.Fprintln(stderr, "usage: gatehouse config check FILE")
		return errUsage
	}
	summary, warnings, err := app.Check(ctx, args[1], getenv)
	if err != nil {
		return fmt.Errorf("%s: invalid:\n%w", args[1], err)
	}
	fmt.Fprintf(stdout, "%s: ok (%s)\n", args[1], summary)
	for _, w := range warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	return nil
}
