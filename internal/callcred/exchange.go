package callcred

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gatehousehq/gatehouse/internal/authn"
	"github.com/gatehousehq/gatehouse/internal/principal"
)

// RFC 8693 names.
const (
	grantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	typeAccessToken    = "urn:ietf:params:oauth:token-type:access_token"
)

// Exchange bounds.
const (
	// renewBefore is how long before its expiry an exchanged token stops
	// being handed out: a call must not start with a token about to lapse.
	renewBefore     = 30 * time.Second
	exchangeTimeout = 10 * time.Second
	maxExchangeBody = 64 << 10
	maxCached       = 10000
)

// ExchangeConfig configures an Exchanger.
type ExchangeConfig struct {
	// Tool names the tool, for the log.
	Tool string
	// TokenURL is the identity provider's token endpoint.
	TokenURL               string
	ClientID, ClientSecret string
	Audience, Scope        string
	HTTPClient             *http.Client // default: a client with a 10s timeout
	Now                    func() time.Time
	Log                    *slog.Logger
}

// Exchanger is the Credential that exchanges the caller's incoming JWT at
// the identity provider (RFC 8693) for a token for Audience, cached per
// subject and audience until shortly before it expires. Any failure stops
// the call (it is not sent) and is logged with its reason.
type Exchanger struct {
	cfg ExchangeConfig

	mu    sync.Mutex
	cache map[string]exchanged // by principal key; guarded by mu
}

type exchanged struct {
	token string
	until time.Time
}

var _ Credential = (*Exchanger)(nil)

// NewExchanger fills cfg's defaults.
func NewExchanger(cfg ExchangeConfig) *Exchanger {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: exchangeTimeout}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Exchanger{cfg: cfg, cache: map[string]exchanged{}}
}

// Bearer returns the exchanged token for the caller in ctx.
func (x *Exchanger) Bearer(ctx context.Context) (string, error) {
	tok, err := x.bearer(ctx)
	if err != nil {
		x.cfg.Log.WarnContext(ctx, "token exchange failed; the call is not sent", "tool", x.cfg.Tool,
			"audience", x.cfg.Audience, "error", err.Error())
		return "", fmt.Errorf("token exchange: %w", err)
	}
	return tok, nil
}

func (x *Exchanger) bearer(ctx context.Context) (string, error) {
	p := principal.From(ctx)
	subjectToken := authn.BearerFrom(ctx)
	if p == nil || p.Method != principal.MethodJWT || subjectToken == "" {
		return "", errors.New("the caller has no token of an identity provider to exchange")
	}
	key := p.Key()
	now := x.cfg.Now()
	x.mu.Lock()
	c, ok := x.cache[key]
	x.mu.Unlock()
	if ok && now.Before(c.until) {
		return c.token, nil
	}
	tok, lifetime, err := x.exchange(ctx, subjectToken)
	if err != nil {
		return "", err
	}
	if lifetime > renewBefore {
		x.remember(key, exchanged{token: tok, until: now.Add(lifetime - renewBefore)}, now)
	}
	return tok, nil
}

func (x *Exchanger) remember(key string, e exchanged, now time.Time) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if len(x.cache) >= maxCached {
		for k, c := range x.cache {
			if !now.Before(c.until) {
				delete(x.cache, k)
			}
		}
		if len(x.cache) >= maxCached {
			return // full of live tokens: exchange again next time
		}
	}
	x.cache[key] = e
}

// exchange makes one RFC 8693 request.
func (x *Exchanger) exchange(ctx context.Context, subjectToken string) (string, time.Duration, error) {
	form := url.Values{
		"grant_type":           {grantTokenExchange},
		"subject_token":        {subjectToken},
		"subject_token_type":   {typeAccessToken},
		"requested_token_type": {typeAccessToken},
		"audience":             {x.cfg.Audience},
	}
	if x.cfg.Scope != "" {
		form.Set("scope", x.cfg.Scope)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, x.cfg.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, errors.New("bad token_url")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(x.cfg.ClientID), url.QueryEscape(x.cfg.ClientSecret))
	resp, err := x.cfg.HTTPClient.Do(req)
	if err != nil {
		return "", 0, errors.New("the identity provider could not be reached")
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxExchangeBody))
	if err != nil {
		return "", 0, errors.New("reading the identity provider's answer failed")
	}
	var out struct {
		AccessToken      string      `json:"access_token"`
		TokenType        string      `json:"token_type"`
		ExpiresIn        json.Number `json:"expires_in"`
		Error            string      `json:"error"`
		ErrorDescription string      `json:"error_description"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return "", 0, fmt.Errorf("the identity provider answered %d with no JSON", resp.StatusCode)
	}
	if resp.StatusCode != http.StatusOK {
		// The provider's error code and description name the refusal; they
		// hold no token.
		return "", 0, fmt.Errorf("the identity provider refused (%d %s: %s)", resp.StatusCode, out.Error, truncate(out.ErrorDescription, 200))
	}
	if out.AccessToken == "" || !strings.EqualFold(out.TokenType, "bearer") {
		return "", 0, errors.New("the identity provider issued no bearer token")
	}
	var lifetime time.Duration
	if s, err := out.ExpiresIn.Int64(); err == nil && s > 0 {
		lifetime = time.Duration(s) * time.Second
	}
	return out.AccessToken, lifetime, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
