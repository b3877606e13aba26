package calltoken_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/callcred"
	"github.com/gatehousehq/gatehouse/internal/principal"
	"github.com/gatehousehq/gatehouse/internal/tools"
	"github.com/gatehousehq/gatehouse/pkg/calltoken"
)

// fakeClock is a clock tests move.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// gatehouse is the signing side: a key file, its signer and the JWKS it
// publishes, as a reload after each rotation would serve them.
type gatehouse struct {
	t       *testing.T
	clock   *fakeClock
	keyFile string
	mu      sync.Mutex
	signer  *callcred.Signer
	jwks    []byte
	srv     *httptest.Server
}

func newGatehouse(t *testing.T, clock *fakeClock) *gatehouse {
	g := &gatehouse{t: t, clock: clock, keyFile: filepath.Join(t.TempDir(), "keys.pem")}
	g.rotate()
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		g.mu.Lock()
		defer g.mu.Unlock()
		_, _ = w.Write(g.jwks)
	}))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *gatehouse) rotate() {
	g.t.Helper()
	if err := callcred.Rotate(g.keyFile); err != nil {
		g.t.Fatal(err)
	}
	keys, err := callcred.LoadKeys(g.keyFile)
	if err != nil {
		g.t.Fatal(err)
	}
	s, err := callcred.NewSigner(callcred.SignerConfig{Issuer: "https://gh.test", Keys: keys, TTL: time.Minute, Now: g.clock.Now})
	if err != nil {
		g.t.Fatal(err)
	}
	jwks, err := s.JWKS()
	if err != nil {
		g.t.Fatal(err)
	}
	g.mu.Lock()
	g.signer, g.jwks = s, jwks
	g.mu.Unlock()
}

func (g *gatehouse) sign(tool, jti string, args tools.Args) string {
	g.t.Helper()
	sum, err := calltoken.ArgsSHA256(map[string]any(args))
	if err != nil {
		g.t.Fatal(err)
	}
	g.mu.Lock()
	s := g.signer
	g.mu.Unlock()
	tok, err := s.Sign(&principal.Principal{Subject: "alice"}, tools.Call{ID: jti, RunID: "run_1", Tool: tool, Actor: "agent:a", ArgsSHA256: sum}, "https://crm.test")
	if err != nil {
		g.t.Fatal(err)
	}
	return tok
}

func (g *gatehouse) verifier(replay *calltoken.ReplayCache) *calltoken.Verifier {
	v, err := calltoken.New(calltoken.Config{JWKSURL: g.srv.URL, Issuer: "https://gh.test", Audience: "https://crm.test",
		Tool: "crm_lookup", Replay: replay, Now: g.clock.Now})
	if err != nil {
		g.t.Fatal(err)
	}
	return v
}

var args = tools.Args{"customer_id": "C-100"}

// Tokens signed before a rotation verify until they expire; the rotated
// key file publishes the previous key, and the one before is dropped.
func TestRotation_EarlierTokensVerifyUntilTheyExpire(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	g := newGatehouse(t, clock)
	v := g.verifier(nil)
	ctx := context.Background()
	before := g.sign("crm_lookup", "run_1/c1", args)
	if _, err := v.Verify(ctx, before, args); err != nil {
		t.Fatalf("before the rotation: %v", err)
	}
	clock.Advance(20 * time.Second)
	g.rotate()
	after := g.sign("crm_lookup", "run_1/c2", args)
	for name, tok := range map[string]string{"signed before": before, "signed after": after} {
		if _, err := v.Verify(ctx, tok, args); err != nil {
			t.Errorf("%s the rotation: %v", name, err)
		}
	}
	clock.Advance(45 * time.Second) // past the first token's exp and leeway
	if _, err := v.Verify(ctx, before, args); !errors.Is(err, calltoken.ErrInvalid) {
		t.Errorf("expired token signed before the rotation: %v", err)
	}
	if _, err := v.Verify(ctx, after, args); err != nil {
		t.Errorf("token signed after the rotation, still live: %v", err)
	}
	g.rotate() // the first key leaves the set
	if _, err := g.verifier(nil).Verify(ctx, g.sign("crm_lookup", "run_1/c3", args), args); err != nil {
		t.Errorf("after a second rotation: %v", err)
	}
	keys, _ := callcred.LoadKeys(g.keyFile)
	if len(keys) != 2 {
		t.Errorf("key file holds %d keys after rotations, want the current and the previous", len(keys))
	}
}

func TestVerify_Refusals(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	g := newGatehouse(t, clock)
	stranger := newGatehouse(t, clock) // another key, same claims: a forgery
	ctx := context.Background()
	replay := calltoken.NewReplayCache(10)
	v := g.verifier(replay)
	tok := g.sign("crm_lookup", "run_1/c1", args)
	if _, err := v.Verify(ctx, tok, args); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		tok  string
		args any
	}{
		"replayed jti":         {tok, args},
		"another tool":         {g.sign("crm_update", "run_1/c2", args), args},
		"other arguments":      {g.sign("crm_lookup", "run_1/c3", args), map[string]any{"customer_id": "C-200"}},
		"no arguments":         {g.sign("crm_lookup", "run_1/c4", args), nil},
		"signed by a stranger": {stranger.sign("crm_lookup", "run_1/c5", args), args},
		"not a JWT":            {"gh_abc", args},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := v.Verify(ctx, c.tok, c.args); !errors.Is(err, calltoken.ErrInvalid) {
				t.Errorf("= %v, want ErrInvalid", err)
			}
		})
	}
	if _, err := v.Verify(ctx, g.sign("crm_lookup", "run_1/c6", args), []byte(`{"customer_id": "C-100"}`)); err != nil {
		t.Errorf("arguments as JSON: %v", err)
	}
}
