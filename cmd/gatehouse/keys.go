package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/gatehousehq/gatehouse/internal/app"
	"github.com/gatehousehq/gatehouse/internal/authn"
	"github.com/gatehousehq/gatehouse/internal/callcred"
)

// claimFlags collects repeated --claim k=v.
type claimFlags map[string]string

func (c claimFlags) String() string { return "" }

func (c claimFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return errors.New("want k=v")
	}
	c[k] = val
	return nil
}

func runKeys(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "rotate-call-token" {
		return runRotateCallToken(args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "new" {
		fmt.Fprintln(stderr, "usage: gatehouse keys new --subject S --roles r1,r2 [--claim k=v]\n       gatehouse keys rotate-call-token --key-file FILE")
		return errUsage
	}
	fs := flag.NewFlagSet("keys new", flag.ContinueOnError)
	fs.SetOutput(stderr)
	subject := fs.String("subject", "", "the key's subject (required)")
	roles := fs.String("roles", "", "comma-separated roles (required)")
	claims := claimFlags{}
	fs.Var(claims, "claim", "a claim k=v for tool conditions (repeatable)")
	if err := fs.Parse(args[1:]); err != nil {
		return errUsage
	}
	if *subject == "" || len(app.SplitList(*roles)) == 0 {
		fmt.Fprintln(stderr, "keys new: --subject and --roles are required")
		return errUsage
	}
	key, digest, err := authn.NewKey()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "API key (shown once; store it in a secret manager):\n\n  %s\n\n", key)
	fmt.Fprintf(stdout, "Config lines for auth.api_keys (only the hash is stored):\n\n")
	fmt.Fprintf(stdout, "    - subject: %q\n      sha256: %q\n      roles: [%s]\n", *subject, digest, strings.Join(app.SplitList(*roles), ", "))
	if len(claims) > 0 {
		fmt.Fprintf(stdout, "      claims:\n")
		for k, v := range claims {
			fmt.Fprintf(stdout, "        %s: %q\n", k, v)
		}
	}
	return nil
}

// runRotateCallToken puts a new call-token key first in the key file and
// keeps the one it replaces, published until its tokens expire.
func runRotateCallToken(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("keys rotate-call-token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("key-file", "", "auth.call_tokens.key_file (required)")
	if err := fs.Parse(args); err != nil || *file == "" {
		fmt.Fprintln(stderr, "usage: gatehouse keys rotate-call-token --key-file FILE")
		return errUsage
	}
	if err := callcred.Rotate(*file); err != nil {
		return err
	}
	keys, err := callcred.LoadKeys(*file)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "new signing key %s; reload gatehouse (POST /admin/reload) to sign with it\n", keys[0].KeyID())
	return nil
}
