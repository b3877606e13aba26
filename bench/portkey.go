package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// The Portkey gateway is the peer: npm @portkey-ai/gateway at the version
// bench/portkey/package-lock.json pins (with @hono/node-server held at
// 1.13.8 through overrides: later versions break its streaming), run by
// bench/portkey/serve.mjs, which binds it to 127.0.0.1.

// portkeyDir finds bench/portkey from the module root or from bench/.
func portkeyDir(flagDir string) (string, error) {
	cands := []string{flagDir}
	if flagDir == "" {
		cands = []string{filepath.Join("bench", "portkey"), "portkey"}
	}
	for _, d := range cands {
		if _, err := os.Stat(filepath.Join(d, "package-lock.json")); err == nil {
			return filepath.Abs(d)
		}
	}
	return "", fmt.Errorf("no package-lock.json in %v (run from the module root or set -portkey-dir)", cands)
}

// installPortkey runs npm ci in dir when its node_modules is missing.
func installPortkey(ctx context.Context, dir string, stderr io.Writer) error {
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@portkey-ai", "gateway", "package.json")); err == nil {
		return nil
	}
	fmt.Fprintf(stderr, "installing the Portkey gateway: npm ci --prefix %s\n", dir)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	// --ignore-scripts: the package's postinstall runs patch-package on
	// patches it does not ship.
	cmd := exec.CommandContext(ctx, "npm", "ci", "--prefix", dir, "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npm ci: %w", err)
	}
	return nil
}

// startPortkey installs (when needed) and starts the Portkey gateway on a
// free loopback port.
func startPortkey(ctx context.Context, flagDir string, stderr io.Writer) (*gateway, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("node not found: %w", err)
	}
	dir, err := portkeyDir(flagDir)
	if err != nil {
		return nil, err
	}
	if err := installPortkey(ctx, dir, stderr); err != nil {
		return nil, err
	}
	cmd := exec.Command(node, filepath.Join(dir, "serve.mjs"), "--port=0", "--headless")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NODE_ENV=production")
	g, err := startChild(ctx, cmd, stderr)
	if err != nil {
		return nil, err
	}
	g.term = true
	return g, nil
}
