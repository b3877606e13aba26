package callcred

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/gatehousehq/gatehouse/internal/principal"
	"github.com/gatehousehq/gatehouse/internal/tools"
)

// DefaultTTL is a call token's lifetime unless configured shorter or
// longer; MaxTTL bounds it: a call token is for one call, now.
const (
	DefaultTTL = 60 * time.Second
	MaxTTL     = 5 * time.Minute
)

// SignerConfig configures a Signer.
type SignerConfig struct {
	// Issuer is the tokens' iss: Gatehouse's public base URL. Required.
	Issuer string
	// Keys are the key file's keys; the first signs. Required.
	Keys Keys
	// TTL is each token's lifetime (default 60s, at most 5m).
	TTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Signer signs call tokens. It is safe for concurrent use.
type Signer struct {
	cfg SignerConfig
}

// NewSigner validates cfg and fills its defaults.
func NewSigner(cfg SignerConfig) (*Signer, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("call tokens: an issuer (server.public_url) is required")
	}
	if len(cfg.Keys) == 0 {
		return nil, errors.New("call tokens: no signing key")
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.TTL < time.Second || cfg.TTL > MaxTTL {
		return nil, fmt.Errorf("call tokens: ttl must be between 1s and %s", MaxTTL)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Signer{cfg: cfg}, nil
}

// JWKS is the public key set to publish: the signing key and the ones it
// replaced.
func (s *Signer) JWKS() ([]byte, error) { return s.cfg.Keys.JWKS() }

// Sign makes the call token of call c by p for audience.
func (s *Signer) Sign(p *principal.Principal, c tools.Call, audience string) (string, error) {
	if p == nil || p.Subject == "" {
		return "", errors.New("no verified caller")
	}
	now := s.cfg.Now().Truncate(time.Second)
	claims := map[string]any{
		"iss":         s.cfg.Issuer,
		"sub":         p.Subject,
		"act":         actClaim(c.Actor, p.Actor),
		"aud":         audience,
		"iat":         now.Unix(),
		"exp":         now.Add(s.cfg.TTL).Unix(),
		"jti":         c.ID,
		"run_id":      c.RunID,
		"tool":        c.Tool,
		"args_sha256": c.ArgsSHA256,
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("encode call token: %w", err)
	}
	key := s.cfg.Keys[0]
	h := jws.NewHeaders()
	if err := h.Set(jws.KeyIDKey, key.kid); err != nil {
		return "", err
	}
	if err := h.Set(jws.TypeKey, "JWT"); err != nil {
		return "", err
	}
	tok, err := jws.Sign(payload, jws.WithKey(key.alg, key.priv, jws.WithProtectedHeaders(h)))
	if err != nil {
		return "", fmt.Errorf("sign call token: %w", err)
	}
	return string(tok), nil
}

// actClaim is RFC 8693's act: Gatehouse's actor (the agent, or the client
// calling for itself), with the chain that acted for the subject before
// it nested inside, nearest first.
func actClaim(actor string, chain []principal.Actor) map[string]any {
	top := map[string]any{"sub": actor}
	cur := top
	for _, a := range chain {
		next := map[string]any{}
		if a.Subject != "" {
			next["sub"] = a.Subject
		}
		if a.ClientID != "" {
			next["client_id"] = a.ClientID
		}
		cur["act"] = next
		cur = next
	}
	return top
}

// Credential supplies the bearer of one tool call from the call's context.
type Credential interface {
	Bearer(ctx context.Context) (string, error)
}

// CallToken is the Credential that signs a call token for audience.
type CallToken struct {
	Signer   *Signer
	Audience string
}

var _ Credential = CallToken{}

// Bearer signs the token of the call in ctx, for the caller in ctx.
func (c CallToken) Bearer(ctx context.Context) (string, error) {
	call, ok := tools.CallFrom(ctx)
	if !ok {
		return "", errors.New("no call to sign a token for")
	}
	return c.Signer.Sign(principal.From(ctx), call, c.Audience)
}
