package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gatehousehq/gatehouse/internal/app"
	"github.com/gatehousehq/gatehouse/internal/mcp/demo"
)

// runMCP serves `gatehouse mcp list SERVER --config FILE` and `gatehouse
// mcp demo-server`.
func runMCP(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: gatehouse mcp list SERVER --config FILE | gatehouse mcp demo-server")
		return errUsage
	}
	switch args[0] {
	case "demo-server":
		// stdio: stdout carries the protocol, nothing else may write to it.
		return demo.NewServer().Run(ctx, &mcp.IOTransport{Reader: io.NopCloser(stdin), Writer: nopWriteCloser{stdout}})
	case "list":
		fs := flag.NewFlagSet("mcp list", flag.ContinueOnError)
		fs.SetOutput(stderr)
		cfgPath := fs.String("config", getenv("GATEHOUSE_CONFIG"), "the config naming the server")
		if len(args) < 2 || fs.Parse(args[2:]) != nil || *cfgPath == "" || fs.NArg() != 0 {
			fmt.Fprintln(stderr, "usage: gatehouse mcp list SERVER --config FILE")
			return errUsage
		}
		lines, err := app.MCPList(ctx, *cfgPath, args[1], getenv)
		if err != nil {
			return fmt.Errorf("mcp list %s: %w", args[1], err)
		}
		fmt.Fprintf(stdout, "# tools of MCP server %s: paste under tools:, set each permission, and add to an agent's tools\n", args[1])
		for _, l := range lines {
			fmt.Fprintln(stdout, "  "+l)
		}
		return nil
	}
	fmt.Fprintf(stderr, "unknown mcp command %q\n", args[0])
	return errUsage
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
