package jwtauth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/gatehousehq/gatehouse/internal/authn"
	"github.com/gatehousehq/gatehouse/internal/principal"
)

// ErrKeysUnavailable means an issuer's keys have never been fetched, so no
// token of it can be judged yet; a technical failure, not bad credentials.
var ErrKeysUnavailable = errors.New("issuer keys unavailable")

// Verifier verifies JWTs of the configured issuers. It is safe for
// concurrent use; Close stops its background key refresh.
type Verifier struct {
	issuers map[string]*issuer
	now     func() time.Time
	cache   *tokenCache

	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
}

var _ authn.TokenVerifier = (*Verifier)(nil)

type issuer struct {
	cfg  IssuerConfig
	algs map[string]bool
	keys *remoteKeySet
}

// Check reports what New would refuse in cfg without starting anything or
// fetching keys: settings, algorithms, URLs, duplicate issuers and static
// JWKS documents (for config check).
func Check(cfg Config) error {
	if err := cfg.setDefaults(); err != nil {
		return fmt.Errorf("configure jwt verifier: %w", err)
	}
	for _, ic := range cfg.Issuers {
		if len(ic.JWKS) > 0 {
			if _, err := parseJWKS(ic.JWKS, nil); err != nil {
				return fmt.Errorf("configure jwt verifier: issuer %q: %w", ic.Issuer, err)
			}
		}
	}
	return nil
}

// New validates cfg, fills its defaults and fetches every issuer's keys
// once (concurrently, each bounded by FetchTimeout). An issuer that cannot be
// reached does not fail New: it is retried in the background every
// MinRefreshInterval and on demand, and its tokens fail with
// ErrKeysUnavailable until its keys arrive. A static JWKS that cannot be
// parsed does fail New.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, fmt.Errorf("configure jwt verifier: %w", err)
	}
	base, cancel := context.WithCancel(context.WithoutCancel(ctx))
	v := &Verifier{
		issuers: make(map[string]*issuer, len(cfg.Issuers)),
		now:     cfg.Now,
		cache:   newTokenCache(cfg.CacheSize),
		cancel:  cancel,
	}
	var remote []*remoteKeySet
	for _, ic := range cfg.Issuers {
		iss := &issuer{cfg: ic, algs: map[string]bool{}}
		for _, a := range ic.Algorithms {
			iss.algs[a] = true
		}
		if len(ic.JWKS) > 0 {
			snap, err := parseJWKS(ic.JWKS, nil)
			if err != nil {
				cancel()
				return nil, fmt.Errorf("configure jwt verifier: issuer %q: %w", ic.Issuer, err)
			}
			iss.keys = staticKeySet(snap)
		} else {
			f := &issuerFetcher{client: guardRedirects(cfg.HTTPClient, ic.InsecureAllowHTTP), issuer: ic.Issuer, allowHTTP: ic.InsecureAllowHTTP, jwksURL: ic.JWKSURL}
			iss.keys = &remoteKeySet{
				fetch:      observed(f.fetch, ic.Issuer, cfg.Refreshes),
				timeout:    cfg.FetchTimeout,
				minRefresh: ic.MinRefreshInterval,
				maxAge:     ic.MaxKeyAge,
				clock:      cfg.Now,
				after:      cfg.After,
				base:       base,
				wg:         &v.wg,
			}
			remote = append(remote, iss.keys)
		}
		v.issuers[ic.Issuer] = iss
	}
	var calls []*fetchCall
	for _, ks := range remote {
		call, err := ks.refresh(true)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("fetch issuer keys: %w", err)
		}
		calls = append(calls, call)
	}
	for _, call := range calls {
		select {
		case <-call.done:
		case <-ctx.Done():
			v.Close()
			return nil, fmt.Errorf("fetch issuer keys: %w", ctx.Err())
		}
	}
	for _, iss := range v.issuers {
		if iss.keys.fetch == nil {
			continue
		}
		name := iss.cfg.Issuer
		v.wg.Add(1)
		go iss.keys.run(func(err error) {
			cfg.Logger.Warn("refresh issuer keys", slog.String("issuer", name), slog.Any("error", err))
		})
	}
	return v, nil
}

// Close stops background key refreshes and waits for fetches in flight.
func (v *Verifier) Close() error {
	v.closeOnce.Do(func() {
		v.cancel()
		v.wg.Wait()
	})
	return nil
}

// VerifyToken implements authn.TokenVerifier. It returns authn.ErrNotMine
// for tokens that are not JWS-shaped, an error wrapping
// authn.ErrInvalidCredentials for any token that fails validation, and
// another error (such as ErrKeysUnavailable) for technical failures.
//
// The returned principal may be shared with other callers of the same token;
// treat it as read-only.
func (v *Verifier) VerifyToken(ctx context.Context, token string) (*principal.Principal, error) {
	if !looksLikeJWT(token) {
		return nil, authn.ErrNotMine
	}
	if len(token) > MaxTokenSize {
		return nil, invalid("token too large")
	}
	// Hash the string's bytes in place: copying a token of up to 8 KiB would
	// be the only allocation of a cache hit. Sum256 only reads them.
	sum := sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
	now := v.now()
	if p, ok := v.cache.get(&sum, now); ok {
		return p, nil
	}
	p, entry, err := v.verify(ctx, token, now)
	if err != nil {
		return nil, err
	}
	v.cache.put(&sum, entry, now)
	return p, nil
}

func (v *Verifier) verify(ctx context.Context, token string, now time.Time) (*principal.Principal, cacheEntry, error) {
	var entry cacheEntry
	tok, err := parse(token)
	if err != nil {
		return nil, entry, err
	}
	issName, _ := tok.claims["iss"].(string)
	iss := v.issuers[issName]
	if iss == nil {
		return nil, entry, invalid("unknown issuer")
	}
	exp, err := iss.checkClaims(tok, now)
	if err != nil {
		return nil, entry, err
	}
	key, err := iss.findKey(ctx, tok.header)
	if err != nil {
		return nil, entry, err
	}
	alg := algorithms[tok.header.alg]
	payload, err := jws.Verify([]byte(token), jws.WithKey(alg.jwa, key.raw), jws.WithCompact())
	if err != nil || !bytes.Equal(payload, tok.payload) {
		return nil, entry, invalid("bad signature")
	}
	p, err := iss.newPrincipal(tok.claims)
	if err != nil {
		return nil, entry, err
	}
	return p, cacheEntry{p: p, exp: exp, iss: iss, key: key}, nil
}

// findKey returns the issuer key that must verify a token with header h.
// A token without kid is accepted only when exactly one key fits its alg.
func (iss *issuer) findKey(ctx context.Context, h header) (*publicKey, error) {
	snap, err := iss.keys.keysFor(ctx, h.kid)
	if snap == nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("find key: %w", ctx.Err())
		}
		return nil, fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
	}
	alg := algorithms[h.alg]
	if h.kid != "" {
		k := snap.byKid[h.kid]
		if k == nil {
			return nil, invalid("unknown key id")
		}
		if !alg.fits(h.alg, k) {
			return nil, invalid("algorithm does not match key")
		}
		return k, nil
	}
	var found *publicKey
	for _, k := range snap.all {
		if alg.fits(h.alg, k) {
			if found != nil {
				return nil, invalid("ambiguous key: token has no kid")
			}
			found = k
		}
	}
	if found == nil {
		return nil, invalid("no key for algorithm")
	}
	return found, nil
}

// IssuerStatus describes one issuer's key state, for readiness reports.
type IssuerStatus struct {
	Issuer    string
	Keys      int       // usable keys held; 0 means its tokens cannot be verified
	FetchedAt time.Time // zero for a static key set or before the first fetch
	LastError error     // of the last fetch attempt, nil if it succeeded
}

// Status reports each issuer's key state, ordered by issuer.
func (v *Verifier) Status() []IssuerStatus {
	out := make([]IssuerStatus, 0, len(v.issuers))
	for name, iss := range v.issuers {
		n, at, err := iss.keys.status()
		out = append(out, IssuerStatus{Issuer: name, Keys: n, FetchedAt: at, LastError: err})
	}
	slices.SortFunc(out, func(a, b IssuerStatus) int { return strings.Compare(a.Issuer, b.Issuer) })
	return out
}
