// Command gatehouse is the identity boundary around tool-calling LLM agents:
// it authenticates every caller, authorizes every action and tool call, and
// records every decision in a tamper-evident audit log.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "gatehouse:", err)
		}
		os.Exit(exitStatus(err))
	}
}

// errUsage means usage was already printed.
var errUsage = errors.New("usage")

const usage = `gatehouse — an identity boundary around tool-calling LLM agents

Usage:
  gatehouse serve --dev [--data-dir DIR] [--addr HOST:PORT]
  gatehouse serve --config FILE           (or GATEHOUSE_CONFIG)
  gatehouse keys new --subject S --roles r1,r2 [--claim k=v]
  gatehouse keys rotate-call-token --key-file FILE
  gatehouse token --subject S --roles r1,r2 [--ttl 1h] [--claim k=v] [--data-dir DIR]
  gatehouse token verify --jwks URL --aud AUD [--args FILE] [--iss URL] [--tool NAME] TOKEN|-
  gatehouse audit verify|tail|export|hash ...
  gatehouse config check FILE
  gatehouse policy test [--config FILE] [--junit FILE] [--min-coverage PCT] [--run REGEXP] SUITE...
  gatehouse policy diff --from OLD --to NEW [--since DURATION] [--config FILE] [--json]
  gatehouse mcp list SERVER --config FILE
  gatehouse mcp demo-server               (a stdio MCP server for the quickstart)
`

// run is the whole program; main only adapts it to the process.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], getenv, stdout, stderr)
	case "keys":
		return runKeys(args[1:], stdout, stderr)
	case "token":
		return runToken(ctx, args[1:], stdin, stdout, stderr)
	case "audit":
		return runAudit(ctx, args[1:], getenv, stdout, stderr)
	case "config":
		return runConfig(ctx, args[1:], getenv, stdout, stderr)
	case "policy":
		return runPolicy(ctx, args[1:], getenv, stdout, stderr)
	case "mcp":
		return runMCP(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "unknown command %q\n\n%s", args[0], usage)
	return errUsage
}
