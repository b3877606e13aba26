// Package jwtauth verifies JWT bearer tokens from one or more trusted
// issuers (OpenID providers or static key sets) and turns them into
// principals. It follows RFC 8725: an algorithm allow-list per issuer (never
// "none", never HMAC), the header "alg" bound to the key's type, "crit"
// refused, key-bearing headers (jku, x5u, jwk, x5c) refused rather than
// followed, and "iss", "aud" and "exp" required.
//
// Keys come from each issuer's JWKS, found by OIDC discovery or configured
// directly, cached and refetched on an unknown "kid" at most once per
// MinRefreshInterval. Verified tokens are cached by their SHA-256 until their
// "exp", so repeated requests skip signature checks.
package jwtauth

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults and limits.
const (
	// MaxTokenSize is the largest token accepted; larger tokens are refused
	// before any parsing.
	MaxTokenSize = 8 << 10
	// MaxJWKSSize caps the JWKS and discovery documents read from an issuer.
	MaxJWKSSize = 1 << 20

	DefaultMinRefreshInterval = 30 * time.Second
	DefaultMaxKeyAge          = time.Hour
	DefaultFetchTimeout       = 10 * time.Second
	DefaultCacheSize          = 10000
	DefaultLeeway             = 30 * time.Second
	maxLeeway                 = 5 * time.Minute
)

// IssuerConfig describes one trusted token issuer.
type IssuerConfig struct {
	// Issuer is the exact "iss" value of its tokens, e.g.
	// "https://idp.example.com/realms/corp". Required.
	Issuer string
	// Audiences lists accepted "aud" values; a token must name at least one.
	// Required: a token minted for another service must not work here.
	Audiences []string
	// JWKSURL is where the issuer's public keys are fetched. Empty means OIDC
	// discovery from Issuer + "/.well-known/openid-configuration"; the
	// discovered "issuer" must equal Issuer exactly.
	JWKSURL string
	// JWKS is a static key set (JWKS JSON). When set, nothing is fetched; this
	// is how the dev issuer is trusted. Mutually exclusive with JWKSURL.
	JWKS []byte
	// Algorithms is the allow-list of signature algorithms, e.g. RS256,
	// ES256, PS256, EdDSA. Default: RS256, ES256. "none" and HMAC (HS*) are
	// refused: a public-key issuer never signs with a shared secret.
	Algorithms []string
	// RolesClaim is the claim holding roles. A literal top-level claim of
	// that name wins (for namespaced claims such as
	// "https://example.com/roles"); otherwise it is a dotted path such as
	// "realm_access.roles". Its value is a string array or a single string.
	// Default "roles".
	RolesClaim string
	// SubjectClaim names the principal's subject claim. Default "sub".
	SubjectClaim string
	// Leeway is the clock skew tolerated for "exp", "nbf" and "iat".
	// Default 30s, at most 5m.
	Leeway time.Duration
	// RequiredTyp, when set (e.g. "at+jwt" for RFC 9068 access tokens),
	// requires the header "typ" to match (case-insensitive, an
	// "application/" prefix ignored).
	RequiredTyp string
	// MinRefreshInterval bounds refetches triggered by an unknown "kid":
	// at most one per interval. Default 30s.
	MinRefreshInterval time.Duration
	// MaxKeyAge is how long fetched keys are used before a background
	// refetch. Default 1h.
	MaxKeyAge time.Duration
	// InsecureAllowHTTP permits http:// issuer and JWKS URLs that are not on
	// a loopback address. Loopback http is always permitted (tests, sidecars).
	InsecureAllowHTTP bool
	// Delegation, when set, accepts tokens with an RFC 8693 "act" claim
	// from the actors it lists; without it such tokens are refused.
	Delegation *Delegation
}

// Config configures a Verifier.
type Config struct {
	// Issuers are the trusted issuers; each token is checked against the one
	// its "iss" names, with that issuer's keys only. At least one.
	Issuers []IssuerConfig
	// HTTPClient fetches discovery documents and key sets. Default: a client
	// with FetchTimeout as its timeout.
	HTTPClient *http.Client
	// FetchTimeout bounds each discovery or JWKS fetch. Default 10s.
	FetchTimeout time.Duration
	// Now is the clock: for token time claims ("exp", "nbf", "iat"), the
	// verified-token cache, the keys' age and the refetch rate limit.
	// Default time.Now.
	Now func() time.Time
	// After waits on Now's clock for the background key refresh: its
	// channel receives once d has passed. Default time.After; a test that
	// sets Now to a fake clock sets After to the same clock's.
	After func(d time.Duration) <-chan time.Time
	// CacheSize bounds the verified-token cache (entries). Default 10000;
	// negative disables the cache.
	CacheSize int
	// Logger receives key-fetch failures of the background refresh (never
	// tokens or key material). Default: discard.
	Logger *slog.Logger
	// Refreshes, when set, is told of every JWKS fetch (for metrics).
	Refreshes RefreshObserver
}

// RefreshObserver is told of each JWKS fetch of a configured issuer: err
// is nil when the keys were fetched.
type RefreshObserver interface {
	KeysRefreshed(issuer string, err error)
}

func (c *Config) setDefaults() error {
	if len(c.Issuers) == 0 {
		return errors.New("no issuers configured")
	}
	if c.FetchTimeout == 0 {
		c.FetchTimeout = DefaultFetchTimeout
	}
	if c.FetchTimeout < 0 {
		return errors.New("fetch timeout must be positive")
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: c.FetchTimeout}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.After == nil {
		c.After = time.After
	}
	if c.CacheSize == 0 {
		c.CacheSize = DefaultCacheSize
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	seen := map[string]bool{}
	for i := range c.Issuers {
		ic := &c.Issuers[i]
		if err := ic.setDefaults(); err != nil {
			return fmt.Errorf("issuer %q: %w", ic.Issuer, err)
		}
		if seen[ic.Issuer] {
			return fmt.Errorf("issuer %q: configured twice", ic.Issuer)
		}
		seen[ic.Issuer] = true
	}
	return nil
}

func (ic *IssuerConfig) setDefaults() error {
	if ic.Issuer == "" {
		return errors.New("issuer is required")
	}
	if len(ic.Audiences) == 0 {
		return errors.New("at least one audience is required")
	}
	for _, a := range ic.Audiences {
		if a == "" {
			return errors.New("empty audience")
		}
	}
	switch {
	case len(ic.JWKS) > 0 && ic.JWKSURL != "":
		return errors.New("jwks and jwks_url are mutually exclusive")
	case len(ic.JWKS) > 0:
	case ic.JWKSURL != "":
		if err := checkFetchURL(ic.JWKSURL, ic.InsecureAllowHTTP); err != nil {
			return fmt.Errorf("jwks_url: %w", err)
		}
	default:
		if err := checkFetchURL(ic.Issuer, ic.InsecureAllowHTTP); err != nil {
			return fmt.Errorf("issuer (for discovery): %w", err)
		}
	}
	if len(ic.Algorithms) == 0 {
		ic.Algorithms = []string{"RS256", "ES256"}
	}
	for _, a := range ic.Algorithms {
		if _, ok := algorithms[a]; !ok {
			return fmt.Errorf("algorithm %q not allowed (asymmetric only: RS*, PS*, ES*, EdDSA)", a)
		}
	}
	if ic.RolesClaim == "" {
		ic.RolesClaim = "roles"
	}
	if ic.SubjectClaim == "" {
		ic.SubjectClaim = "sub"
	}
	switch {
	case ic.Leeway == 0:
		ic.Leeway = DefaultLeeway
	case ic.Leeway < 0 || ic.Leeway > maxLeeway:
		return fmt.Errorf("leeway must be between 0 and %s", maxLeeway)
	}
	if ic.MinRefreshInterval == 0 {
		ic.MinRefreshInterval = DefaultMinRefreshInterval
	}
	if ic.MaxKeyAge == 0 {
		ic.MaxKeyAge = DefaultMaxKeyAge
	}
	if ic.MinRefreshInterval < 0 || ic.MaxKeyAge < ic.MinRefreshInterval {
		return errors.New("need 0 < min_refresh_interval <= max_key_age")
	}
	if ic.Delegation != nil {
		d := *ic.Delegation // the caller's config stays as it was
		ic.Delegation = &d
		return d.setDefaults()
	}
	return nil
}

// checkFetchURL requires https, or http on a loopback host, or http when
// explicitly allowed.
func checkFetchURL(raw string, allowHTTP bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("parse url: %w", err)
	}
	if u.Host == "" {
		return errors.New("url needs a host")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if allowHTTP || isLoopback(u.Hostname()) {
			return nil
		}
		return errors.New("http is allowed only on loopback (set insecure_allow_http to override)")
	}
	return fmt.Errorf("unsupported scheme %q", u.Scheme)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
