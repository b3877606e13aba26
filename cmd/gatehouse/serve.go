package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/gatehousehq/gatehouse/internal/app"
)

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dev := fs.Bool("dev", false, "quickstart: generate a dev data dir, demo users and demo data")
	cfgPath := fs.String("config", getenv("GATEHOUSE_CONFIG"), "config file (or GATEHOUSE_CONFIG)")
	dataDir := fs.String("data-dir", "gatehouse-data", "dev data dir")
	addr := fs.String("addr", "", "listen address, overriding server.addr (e.g. 127.0.0.1:0)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *dev && *cfgPath != "" && *cfgPath != getenv("GATEHOUSE_CONFIG") {
		return errors.New("serve: --dev and --config exclude each other")
	}
	if !*dev && *cfgPath == "" {
		fmt.Fprintln(stderr, "serve: give --dev for the quickstart, or --config FILE")
		return errUsage
	}
	o := app.Options{Dev: *dev, DataDir: *dataDir, Addr: *addr, Getenv: getenv, Stdout: stdout, Stderr: stderr}
	if !*dev {
		o.ConfigPath = *cfgPath
	}
	return app.Run(ctx, o)
}
