package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"time"
)

// serveDebug serves net/http/pprof on a loopback port of the gateway
// child (never on the gateway's own listener) and prints "pprof BASE".
func serveDebug() (func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index) // allocs, heap, goroutine, ...
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	fmt.Printf("pprof http://%s\n", ln.Addr())
	return func() { _ = srv.Close() }, nil
}

// profile drives scenario name's gateway in open loop at the harness's
// rate for secs seconds while the gateway records a CPU profile, and saves
// it to dir with the allocation profile before and after (compare with
// pprof -base): cpu-NAME.pprof, allocs-NAME-before.pprof, allocs-NAME.pprof.
func profile(ctx context.Context, o options, name string, t *target, dir string, progress io.Writer) error {
	if t.gw == nil || t.gw.debug == "" {
		return fmt.Errorf("the %s gateway has no debug listener", name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	secs := max(15, int(o.segment.Seconds()+0.5)) // enough samples for the shares
	fmt.Fprintf(progress, "profile %s open loop %.0f runs/s, %d s\n", name, o.rate, secs)
	if err := fetch(ctx, t.gw.debug+"/debug/pprof/allocs", filepath.Join(dir, "allocs-"+name+"-before.pprof")); err != nil {
		return err
	}
	cpu := make(chan error, 1)
	go func() {
		cpu <- fetch(ctx, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", t.gw.debug, secs), filepath.Join(dir, "cpu-"+name+".pprof"))
	}()
	s := openLoop(ctx, o.rate, time.Duration(secs)*time.Second, o.maxInflight, t.run)
	if err := <-cpu; err != nil {
		return err
	}
	if err := fetch(ctx, t.gw.debug+"/debug/pprof/allocs", filepath.Join(dir, "allocs-"+name+".pprof")); err != nil {
		return err
	}
	if s.errs > 0 { // the profiles are written, but not of what was asked
		return fmt.Errorf("%d errors while profiling (the profiles are of an overloaded %s), first: %s", s.errs, name, s.firstErr)
	}
	return nil
}

// profiled are the scenarios -profile profiles, those of them measured.
var profiled = []string{scG, scGP, scGMem, scGPMem}

// fetch saves url's body to path.
func fetch(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
