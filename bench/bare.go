package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"
)

// childBareEnv makes the gateway child a bare reverse proxy to the
// upstream base URL it names, instead of gatehouse.
const childBareEnv = "GATEHOUSE_BENCH_BARE_UPSTREAM"

// bareAgent is G-bare's handler: D's run (the two upstream calls, each
// answer decoded and checked) made by a net/http handler, answered with
// what G's check looks for. No authentication, policy, audit or session.
func bareAgent(upstream string) http.Handler {
	client := newClient(256)
	run := direct(client, upstream)
	answer := []byte(`{"tool_calls":[{"name":"payments_lookup","decision":"allow"}],"answer":"` + finalAnswer + `"}`)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if _, err := run(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(answer)
	})
}

// bareProxyMain is GP-bare's and G-bare's gateway: the standard library's
// httputil.ReverseProxy in front of the upstream (and bareAgent), with the same kind of
// server and client timeouts gatehouse sets and nothing else (no
// authentication, no parsing, no policy, no audit). What it costs is the
// floor of any gateway built on net/http on this machine.
func bareProxyMain(ctx context.Context, upstream string) error {
	u, err := url.Parse(upstream)
	if err != nil {
		return err
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			// SetURL joins the paths: /v1 + /v1/chat/completions.
			r.Out.URL.Path = u.Path + r.In.URL.Path[len("/v1"):]
			r.Out.Header.Set("Authorization", "Bearer sk-bench")
		},
		Transport: &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second, ResponseHeaderTimeout: 15 * time.Second},
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/chat/completions", rp)
	mux.Handle("POST /v1/chat", bareAgent(upstream))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.MaxBytesHandler(mux, 1<<20), ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 20 * time.Second, WriteTimeout: 20 * time.Second, IdleTimeout: 120 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	fmt.Printf("listening http://%s\n", ln.Addr())
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}
