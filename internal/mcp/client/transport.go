package client

import (
	"net/http"
	"os"
	"os/exec"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// transport is the connection's transport, and what to do once it is
// closed (stop whatever the stdio server left running).
func (s *Source) transport() (mcp.Transport, func()) {
	if s.cfg.URL != "" {
		hc := s.cfg.HTTPClient
		if hc == nil {
			hc = &http.Client{}
		}
		hc = &http.Client{Transport: headerTransport{base: hc.Transport, headers: s.cfg.Headers}, Timeout: hc.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		return &mcp.StreamableClientTransport{Endpoint: s.cfg.URL, HTTPClient: hc, DisableStandaloneSSE: true, MaxRetries: -1}, func() {}
	}
	cmd := exec.Command(s.cfg.Command[0], s.cfg.Command[1:]...)
	cmd.Env = childEnv(s.cfg.Env)
	cmd.Stderr = s.stderr
	// Wait returns even when a grandchild still holds stderr open.
	cmd.WaitDelay = time.Second
	setProcessGroup(cmd)
	return &mcp.CommandTransport{Command: cmd, TerminateDuration: 2 * time.Second}, func() { killGroup(cmd) }
}

// passedEnv are the variables of gatehouse's environment a stdio server
// gets besides its configured env: enough to find programs and a home.
var passedEnv = []string{"PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "USER", "NODE_PATH", "npm_config_cache"}

func childEnv(extra map[string]string) []string {
	var env []string
	for _, k := range passedEnv {
		if v, ok := os.LookupEnv(k); ok {
			if _, set := extra[k]; !set {
				env = append(env, k+"="+v)
			}
		}
	}
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	return env
}

type headerTransport struct {
	base    http.RoundTripper
	headers map[string]string
}

// bearerKey carries one call's bearer in the context of its request.
type bearerKey struct{}

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range h.headers {
		r.Header.Set(k, v)
	}
	if tok, ok := r.Context().Value(bearerKey{}).(string); ok {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	base := h.base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r)
}
