package main

import (
	"context"
	"os"
	"testing"
)

// TestMain lets this test binary be gatehouse for `mcp demo-server`: dev
// mode starts GATEHOUSE_SELF (this program) with those arguments as its
// demo MCP server, and in tests this program is the test binary.
func TestMain(m *testing.M) {
	if len(os.Args) == 3 && os.Args[1] == "mcp" && os.Args[2] == "demo-server" {
		if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
