package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/gatehousehq/gatehouse/internal/app"
	"github.com/gatehousehq/gatehouse/internal/devkey"
)

// runToken serves `gatehouse token`: a JWT signed by the data dir's dev key,
// accepted by `serve --dev` through its dev issuer; `token verify` checks a
// call token.
func runToken(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "verify" {
		return runTokenVerify(ctx, args[1:], stdin, stdout, stderr)
	}
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	subject := fs.String("subject", "", "the token's subject (required)")
	roles := fs.String("roles", "", "comma-separated roles (required)")
	ttl := fs.Duration("ttl", time.Hour, "lifetime")
	dataDir := fs.String("data-dir", "gatehouse-data", "dev data dir holding the signing key")
	claims := claimFlags{}
	fs.Var(claims, "claim", "an extra claim k=v (repeatable)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *subject == "" || len(app.SplitList(*roles)) == 0 {
		fmt.Fprintln(stderr, "token: --subject and --roles are required")
		return errUsage
	}
	if *ttl <= 0 || *ttl > 24*time.Hour {
		fmt.Fprintln(stderr, "token: --ttl must be between 1s and 24h")
		return errUsage
	}
	key, err := devkey.Load(*dataDir)
	if err != nil {
		return fmt.Errorf("dev jwt key: %w", err)
	}
	tok, err := key.Mint(*subject, app.SplitList(*roles), *ttl, claims)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
