package callcred

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/authn"
	"github.com/gatehousehq/gatehouse/internal/principal"
	"github.com/gatehousehq/gatehouse/internal/zitadeltest"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func callerCtx(p *principal.Principal, token string) context.Context {
	return authn.WithBearer(principal.With(context.Background(), p), token)
}

// The exchanged token is reused per subject until 30s before the expiry
// the provider gave (its access tokens live 5 minutes: expires_in 299 or
// 300), then exchanged anew.
func TestExchanger_CachesPerSubjectUntilShortlyBeforeExpiry(t *testing.T) {
	z := zitadeltest.Start(t)
	clk := &clock{t: time.Now()}
	x := NewExchanger(ExchangeConfig{Tool: "crm", TokenURL: z.URL + "/oauth/token", ClientID: zitadeltest.ClientID,
		ClientSecret: zitadeltest.ClientSecret, Audience: "crm", Scope: "openid", Now: clk.now})
	alice := callerCtx(&principal.Principal{Subject: "alice", Method: principal.MethodJWT, Issuer: z.URL}, z.UserToken(t, "alice"))
	first, err := x.Bearer(alice)
	if err != nil {
		t.Fatal(err)
	}
	clk.advance(4 * time.Minute)
	if again, err := x.Bearer(alice); err != nil || again != first || z.Exchanges.Load() != 1 {
		t.Fatalf("within the lifetime: same token %v, err %v, exchanges %d", again == first, err, z.Exchanges.Load())
	}
	clk.advance(31 * time.Second) // 271s: past 300-30
	renewed, err := x.Bearer(alice)
	if err != nil || renewed == first || z.Exchanges.Load() != 2 {
		t.Errorf("30s before expiry: new token %v, err %v, exchanges %d", renewed != first, err, z.Exchanges.Load())
	}
	if sub := z.UserinfoSubject(t, renewed); sub != "alice" {
		t.Errorf("exchanged token is %q's", sub)
	}
}

func TestExchanger_FailsClosed(t *testing.T) {
	z := zitadeltest.Start(t)
	x := NewExchanger(ExchangeConfig{Tool: "crm", TokenURL: z.URL + "/oauth/token", ClientID: zitadeltest.ClientID,
		ClientSecret: zitadeltest.ClientSecret, Audience: "crm"})
	wrongSecret := NewExchanger(ExchangeConfig{Tool: "crm", TokenURL: z.URL + "/oauth/token", ClientID: zitadeltest.ClientID,
		ClientSecret: "nope", Audience: "crm"})
	jwtCaller := &principal.Principal{Subject: "alice", Method: principal.MethodJWT}
	cases := map[string]struct {
		x    *Exchanger
		ctx  context.Context
		want string
	}{
		"an API key caller":            {x, callerCtx(&principal.Principal{Subject: "ops", Method: principal.MethodAPIKey}, "gh_key"), "no token"},
		"no token in the context":      {x, principal.With(context.Background(), jwtCaller), "no token"},
		"a token the provider rejects": {x, callerCtx(jwtCaller, "eyJhbGciOiJub25lIn0.e30.x"), "refused"},
		"bob may not be exchanged for": {x, callerCtx(&principal.Principal{Subject: "bob", Method: principal.MethodJWT}, z.UserToken(t, "bob")), "impersonation"},
		"wrong client secret":          {wrongSecret, callerCtx(jwtCaller, z.UserToken(t, "alice")), "refused"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			tok, err := c.x.Bearer(c.ctx)
			if err == nil || tok != "" || !strings.Contains(err.Error(), c.want) {
				t.Errorf("= %q, %v; want an error naming %q", tok, err, c.want)
			}
		})
	}
}
