package jwtauth

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/authn"
)

// idp is a real OpenID provider (test/interop/idp.mjs) on loopback.
type idp struct {
	issuer string
	client *http.Client
}

func startIDP(t *testing.T) *idp {
	t.Helper()
	node := requireNode(t)
	cmd := exec.Command(node, filepath.Join(interopDir, "idp.mjs"), "0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		if s.Scan() {
			line <- s.Text()
		}
		close(line)
	}()
	var ready struct{ Issuer string }
	select {
	case l := <-line:
		if err := json.Unmarshal([]byte(l), &ready); err != nil || !strings.HasPrefix(ready.Issuer, "http://127.0.0.1:") {
			t.Fatalf("idp.mjs did not start: %q %v\n%s", l, err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("idp.mjs did not start within 20s\n%s", stderr.String())
	}
	return &idp{issuer: ready.Issuer, client: &http.Client{Timeout: 10 * time.Second}}
}

// token gets a client_credentials access token for gatehouse.
func (p *idp) token(t *testing.T) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "resource": {"urn:gatehouse"}, "scope": {"read write"}}
	req, err := http.NewRequest(http.MethodPost, p.issuer+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("gatehouse-test", "interop-secret")
	var out struct {
		AccessToken string `json:"access_token"`
	}
	p.call(t, req, &out)
	if out.AccessToken == "" {
		t.Fatal("idp returned no access token")
	}
	return out.AccessToken
}

func (p *idp) admin(t *testing.T, method, path string) (stats struct {
	JWKSFetches int64 `json:"jwksFetches"`
	Kid         string
}) {
	t.Helper()
	req, err := http.NewRequest(method, p.issuer+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.call(t, req, &stats)
	return stats
}

func (p *idp) call(t *testing.T, req *http.Request, out any) {
	t.Helper()
	resp, err := p.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: status %d", req.Method, req.URL.Path, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}

func TestInterop_OIDCProviderDiscoveryAndRotation(t *testing.T) {
	p := startIDP(t)
	const minRefresh = 300 * time.Millisecond
	v := newVerifier(t, Config{Issuers: []IssuerConfig{{
		Issuer:             p.issuer,
		Audiences:          []string{"gatehouse"},
		Algorithms:         []string{"RS256"},
		RequiredTyp:        "at+jwt",
		MinRefreshInterval: minRefresh,
		MaxKeyAge:          time.Second,
	}}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	oldTok := p.token(t)
	pr, err := v.VerifyToken(ctx, oldTok)
	if err != nil {
		t.Fatalf("token found by discovery: %v", err)
	}
	if pr.Subject != "gatehouse-test" || pr.Issuer != p.issuer || !pr.HasRole("agent") {
		t.Errorf("principal = %+v", pr)
	}

	// Rotation: the provider signs with a new key and publishes both.
	rotated := p.admin(t, http.MethodPost, "/admin/rotate")
	newTok := p.token(t)
	time.Sleep(minRefresh)
	before := p.admin(t, http.MethodGet, "/admin/stats").JWKSFetches
	if _, err := v.VerifyToken(ctx, newTok); err != nil {
		t.Fatalf("token of the new key %s: %v", rotated.Kid, err)
	}
	if got := p.admin(t, http.MethodGet, "/admin/stats").JWKSFetches - before; got != 1 {
		t.Errorf("JWKS fetches to accept the new key = %d, want 1", got)
	}
	if _, err := v.VerifyToken(ctx, oldTok); err != nil {
		t.Fatalf("old key still published, token refused: %v", err)
	}

	// The old key leaves the JWKS: once the verifier refreshes, its tokens fail.
	p.admin(t, http.MethodPost, "/admin/drop-old")
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := v.VerifyToken(ctx, oldTok)
		if errors.Is(err, authn.ErrInvalidCredentials) {
			break
		}
		if err != nil {
			t.Fatalf("old token: %v, want ErrInvalidCredentials", err)
		}
		if time.Now().After(deadline) {
			t.Fatal("token of a dropped key still accepted 5s after the drop")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := v.VerifyToken(ctx, p.token(t)); err != nil {
		t.Fatalf("fresh token after drop: %v", err)
	}
}
