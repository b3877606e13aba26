// Package oidctest starts the real OpenID provider of test/interop
// (idp.mjs, npm oidc-provider) for tests, and runs the other node scripts
// there (forge.mjs, npm jose). Node.js and `npm ci --prefix test/interop`
// are part of the test contract: without them tests fail, never skip.
package oidctest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Provider is test/interop/idp.mjs running on loopback. Its tokens carry
// roles ["agent"], scope "read write", sub "gatehouse-test" (the client id)
// and aud "gatehouse".
type Provider struct {
	// Issuer is the provider's issuer URL, http://127.0.0.1:PORT.
	Issuer string
	client *http.Client
}

// Stats is what the provider's admin endpoints answer.
type Stats struct {
	JWKSFetches int64 `json:"jwksFetches"`
	Kid         string
}

// Start starts the provider on a free loopback port; it stops when the test
// ends.
func Start(t testing.TB) *Provider {
	t.Helper()
	node, dir := requireNode(t)
	cmd := exec.Command(node, filepath.Join(dir, "idp.mjs"), "0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop := func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	t.Cleanup(stop)
	// fail stops the provider first: once Wait returns, stderr is complete
	// and no longer written.
	fail := func(format string, args ...any) {
		t.Helper()
		stop()
		t.Fatalf(format+"\n%s", append(args, stderr.String())...)
	}
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		if s.Scan() {
			line <- s.Text()
		}
		close(line)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	var ready struct{ Issuer string }
	select {
	case l := <-line:
		if err := json.Unmarshal([]byte(l), &ready); err != nil || !strings.HasPrefix(ready.Issuer, "http://127.0.0.1:") {
			fail("idp.mjs did not start: %q %v", l, err)
		}
	case <-time.After(20 * time.Second):
		fail("idp.mjs did not start within 20s")
	}
	return &Provider{Issuer: ready.Issuer, client: &http.Client{Timeout: 10 * time.Second}}
}

// Token returns a client_credentials access token for gatehouse.
func (p *Provider) Token(t testing.TB) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "resource": {"urn:gatehouse"}, "scope": {"read write"}}
	req, err := http.NewRequest(http.MethodPost, p.Issuer+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("gatehouse-test", "interop-secret")
	var out struct {
		AccessToken string `json:"access_token"`
	}
	p.do(t, req, &out)
	if out.AccessToken == "" {
		t.Fatal("the provider returned no access token")
	}
	return out.AccessToken
}

// ConsoleClientID is the provider's public client for the web console.
const ConsoleClientID = "gatehouse-console"

// AllowConsole registers redirectURI as the console client's redirect URI
// (and its origin for CORS): authorization code with PKCE, no secret. The
// provider then signs in the user "console-user" (roles ["agent"]) without
// a login page.
func (p *Provider) AllowConsole(t testing.TB, redirectURI string) {
	t.Helper()
	b, err := json.Marshal(map[string]string{"redirect_uri": redirectURI})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, p.Issuer+"/admin/console-client", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ ClientID string }
	p.do(t, req, &out)
}

// Rotate makes a new key sign from now on; the old one stays published.
func (p *Provider) Rotate(t testing.TB) Stats {
	t.Helper()
	return p.admin(t, http.MethodPost, "/admin/rotate")
}

// DropOld leaves only the current signing key in the JWKS.
func (p *Provider) DropOld(t testing.TB) Stats {
	t.Helper()
	return p.admin(t, http.MethodPost, "/admin/drop-old")
}

// Stats returns how often the JWKS was fetched and the current signing kid.
func (p *Provider) Stats(t testing.TB) Stats {
	t.Helper()
	return p.admin(t, http.MethodGet, "/admin/stats")
}

func (p *Provider) admin(t testing.TB, method, path string) Stats {
	t.Helper()
	req, err := http.NewRequest(method, p.Issuer+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	var s Stats
	p.do(t, req, &s)
	return s
}

func (p *Provider) do(t testing.TB, req *http.Request, out any) {
	t.Helper()
	resp, err := p.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("provider %s %s: status %d", req.Method, req.URL.Path, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}

// Run runs a script of test/interop with stdin and returns its stdout.
func Run(t testing.TB, script string, stdin []byte) []byte {
	t.Helper()
	node, dir := requireNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, script))
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s: %v\n%s", script, err, stderr.String())
	}
	return stdout.Bytes()
}

// requireNode returns the node binary and test/interop, failing (never
// skipping) when node or the interop packages are missing.
func requireNode(t testing.TB) (node, dir string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node not found in PATH; the OpenID interop and hostile-token tests need Node.js 18+ and `npm ci --prefix test/interop`")
	}
	dir = interopDir(t)
	for _, pkg := range []string{"jose", "oidc-provider"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg, "package.json")); err != nil {
			t.Fatalf("test/interop/node_modules/%s is missing: run `npm ci --prefix test/interop` first", pkg)
		}
	}
	return node, dir
}

// interopDir finds test/interop at the module root: the nearest directory
// above the working directory (the test's package) that holds go.mod.
func interopDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "test", "interop")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory: cannot find test/interop")
		}
		dir = parent
	}
}
