package jwtauth

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// interopDir is test/interop, which holds the node scripts and their
// dependencies (installed by `npm ci --prefix test/interop`).
const interopDir = "../../../test/interop"

// requireNode returns the node binary, failing (never skipping) when node or
// the interop packages are missing: these tests are part of the contract.
func requireNode(t testing.TB) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node not found in PATH; the JWT interop and hostile-token tests need Node.js 18+")
	}
	for _, pkg := range []string{"jose", "oidc-provider"} {
		if _, err := os.Stat(filepath.Join(interopDir, "node_modules", pkg, "package.json")); err != nil {
			t.Fatalf("test/interop/node_modules/%s is missing: run `npm ci --prefix test/interop` first", pkg)
		}
	}
	return node
}

// runNode runs a script of test/interop with stdin and returns its stdout.
func runNode(t testing.TB, script string, stdin []byte) []byte {
	t.Helper()
	node := requireNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(interopDir, script))
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s: %v\n%s", script, err, stderr.String())
	}
	return stdout.Bytes()
}
