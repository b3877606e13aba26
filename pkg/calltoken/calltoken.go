// Package calltoken lets a tool check the call token Gatehouse sends with
// each call it allowed: signed by a key Gatehouse publishes at
// /.well-known/jwks.json, for this tool's audience, unexpired, and bound
// to the exact arguments the tool received (args_sha256). One call does it:
//
//	v, err := calltoken.New(calltoken.Config{
//		JWKSURL:  "https://gatehouse.example/.well-known/jwks.json",
//		Issuer:   "https://gatehouse.example",
//		Audience: "https://crm.internal",
//		Tool:     "crm_lookup",
//		Replay:   calltoken.NewReplayCache(100000),
//	})
//	...
//	claims, err := v.Verify(ctx, calltoken.BearerToken(r), args)
//
// Refusing a token seen before (same jti) is the tool's to do: give Config
// a ReplayCache, or check Claims.ID against a store shared by replicas.
package calltoken

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// ErrInvalid is wrapped by every refusal of a token (as opposed to a
// failure to fetch keys).
var ErrInvalid = errors.New("invalid call token")

// Config says what a valid token is for this tool.
type Config struct {
	// JWKSURL is Gatehouse's /.well-known/jwks.json. Required.
	JWKSURL string
	// Audience is this tool's audience (its call_token.audience, default
	// its URL's origin). Required.
	Audience string
	// Issuer, when set, must be the token's iss (Gatehouse's public URL).
	Issuer string
	// Tool, when set, must be the token's tool: a token for another tool
	// of the same audience is refused.
	Tool string
	// Replay, when set, refuses a jti seen before.
	Replay *ReplayCache
	// Leeway tolerates clock skew on exp and iat (default 5s).
	Leeway time.Duration
	// MinRefreshInterval bounds refetches of the key set on an unknown kid
	// (default 10s).
	MinRefreshInterval time.Duration
	HTTPClient         *http.Client     // default: 10s timeout
	Now                func() time.Time // default time.Now
}

// Actor is one party of the token's act chain.
type Actor struct {
	Subject  string `json:"sub,omitempty"`
	ClientID string `json:"client_id,omitempty"`
}

// Claims are a verified token's claims.
type Claims struct {
	Issuer     string
	Subject    string
	Audience   []string
	IssuedAt   time.Time
	Expiry     time.Time
	ID         string // jti: unique to the call
	RunID      string
	Tool       string
	ArgsSHA256 string
	// Actors is the act chain, nearest first: Gatehouse's agent (or
	// client:<subject>), then whoever acted for the subject before.
	Actors []Actor
}

// Verifier checks call tokens. It is safe for concurrent use.
type Verifier struct {
	cfg  Config
	keys *keySet
}

// New validates cfg. Keys are fetched on first use.
func New(cfg Config) (*Verifier, error) {
	if cfg.JWKSURL == "" || cfg.Audience == "" {
		return nil, errors.New("calltoken: JWKSURL and Audience are required")
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = 5 * time.Second
	}
	if cfg.MinRefreshInterval == 0 {
		cfg.MinRefreshInterval = 10 * time.Second
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Verifier{cfg: cfg, keys: &keySet{url: cfg.JWKSURL, client: cfg.HTTPClient, now: cfg.Now, minRefresh: cfg.MinRefreshInterval}}, nil
}

// BearerToken is the token of r's "Authorization: Bearer" header, or "".
func BearerToken(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// Verify checks token — signature, iss, aud, exp, tool, jti not replayed —
// and that args (the arguments the tool received: a map, or their JSON as
// []byte or json.RawMessage) hash to its args_sha256.
func (v *Verifier) Verify(ctx context.Context, token string, args any) (*Claims, error) {
	c, err := v.VerifyClaims(ctx, token)
	if err != nil {
		return nil, err
	}
	sum, err := ArgsSHA256(args)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if sum != c.ArgsSHA256 {
		return nil, fmt.Errorf("%w: the arguments are not the ones allowed", ErrInvalid)
	}
	if v.cfg.Replay != nil && !v.cfg.Replay.Claim(c.ID, c.Expiry.Add(v.cfg.Leeway), v.cfg.Now()) {
		return nil, fmt.Errorf("%w: token already used (jti %s)", ErrInvalid, c.ID)
	}
	return c, nil
}

// VerifyClaims checks everything Verify does but the arguments and the
// replay cache: for inspecting a token, not for accepting a call.
func (v *Verifier) VerifyClaims(ctx context.Context, token string) (*Claims, error) {
	payload, err := v.keys.verify(ctx, token)
	if err != nil {
		return nil, err
	}
	c, err := parseClaims(payload)
	if err != nil {
		return nil, err
	}
	if err := v.check(c); err != nil {
		return nil, err
	}
	return c, nil
}

func (v *Verifier) check(c *Claims) error {
	now := v.cfg.Now()
	switch {
	case v.cfg.Issuer != "" && c.Issuer != v.cfg.Issuer:
		return fmt.Errorf("%w: wrong issuer", ErrInvalid)
	case !contains(c.Audience, v.cfg.Audience):
		return fmt.Errorf("%w: wrong audience", ErrInvalid)
	case !now.Before(c.Expiry.Add(v.cfg.Leeway)):
		return fmt.Errorf("%w: expired", ErrInvalid)
	case now.Add(v.cfg.Leeway).Before(c.IssuedAt):
		return fmt.Errorf("%w: issued in the future", ErrInvalid)
	case v.cfg.Tool != "" && c.Tool != v.cfg.Tool:
		return fmt.Errorf("%w: token for another tool", ErrInvalid)
	}
	return nil
}

// ArgsSHA256 is the hex SHA-256 of args' canonical JSON as Gatehouse
// computes it: keys sorted, no insignificant whitespace, no HTML escaping.
// args is a value encoding/json can encode, or JSON as []byte or
// json.RawMessage (decoded with numbers kept as written).
func ArgsSHA256(args any) (string, error) {
	switch a := args.(type) {
	case nil:
		return "", errors.New("no arguments given to check (a call without arguments has {})")
	case []byte:
		return ArgsSHA256(json.RawMessage(a))
	case json.RawMessage:
		dec := json.NewDecoder(bytes.NewReader(a))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return "", fmt.Errorf("decode arguments: %w", err)
		}
		args = v
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(args); err != nil {
		return "", fmt.Errorf("encode arguments: %w", err)
	}
	sum := sha256.Sum256(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
	return hex.EncodeToString(sum[:]), nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
