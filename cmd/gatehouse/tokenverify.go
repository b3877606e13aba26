package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gatehousehq/gatehouse/pkg/calltoken"
)

// runTokenVerify serves `gatehouse token verify`: a call token checked as
// a tool would check it (package calltoken), its claims printed as JSON.
func runTokenVerify(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	jwks := fs.String("jwks", "", "Gatehouse's JWKS URL, e.g. https://gatehouse.example/.well-known/jwks.json (required)")
	aud := fs.String("aud", "", "the tool's audience (required)")
	argsFile := fs.String("args", "", "a file holding the call's arguments as JSON, checked against args_sha256")
	iss := fs.String("iss", "", "the issuer to require (Gatehouse's public URL)")
	tool := fs.String("tool", "", "the tool name to require")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *jwks == "" || *aud == "" || fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: gatehouse token verify --jwks URL --aud AUD [--args FILE] [--iss URL] [--tool NAME] TOKEN|-")
		return errUsage
	}
	tok := fs.Arg(0)
	if tok == "-" {
		b, err := io.ReadAll(io.LimitReader(stdin, 64<<10))
		if err != nil {
			return fmt.Errorf("read token: %w", err)
		}
		tok = strings.TrimSpace(string(b))
	}
	v, err := calltoken.New(calltoken.Config{JWKSURL: *jwks, Audience: *aud, Issuer: *iss, Tool: *tool})
	if err != nil {
		return err
	}
	var c *calltoken.Claims
	if *argsFile != "" {
		raw, rerr := os.ReadFile(*argsFile)
		if rerr != nil {
			return fmt.Errorf("read arguments: %w", rerr)
		}
		c, err = v.Verify(ctx, tok, json.RawMessage(raw))
	} else {
		c, err = v.VerifyClaims(ctx, tok)
	}
	if err != nil {
		return fmt.Errorf("token verify: %w", err)
	}
	out := struct {
		*calltoken.Claims
		ArgumentsChecked bool
	}{c, *argsFile != ""}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
