package jwtauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
)

// issuerFetcher fetches an issuer's key set, discovering the JWKS URL once
// through OIDC discovery when it is not configured.
type issuerFetcher struct {
	client    *http.Client
	issuer    string
	allowHTTP bool

	mu      sync.Mutex
	jwksURL string
}

func (f *issuerFetcher) fetch(ctx context.Context, prev *keySnapshot) (*keySnapshot, error) {
	jwksURL, err := f.keysURL(ctx)
	if err != nil {
		return nil, err
	}
	body, err := get(ctx, f.client, jwksURL)
	if err != nil {
		return nil, fmt.Errorf("fetch jwks: %w", err)
	}
	return parseJWKS(body, prev)
}

func (f *issuerFetcher) keysURL(ctx context.Context) (string, error) {
	f.mu.Lock()
	u := f.jwksURL
	f.mu.Unlock()
	if u != "" {
		return u, nil
	}
	u, err := discover(ctx, f.client, f.issuer, f.allowHTTP)
	if err != nil {
		return "", err
	}
	f.mu.Lock()
	f.jwksURL = u
	f.mu.Unlock()
	return u, nil
}

// discover reads the issuer's OpenID configuration and returns its jwks_uri.
// The document must name exactly the configured issuer (OIDC Discovery 4.3),
// or a hostile document could make us trust another issuer's keys.
func discover(ctx context.Context, client *http.Client, issuer string, allowHTTP bool) (string, error) {
	wellKnown := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	body, err := get(ctx, client, wellKnown)
	if err != nil {
		return "", fmt.Errorf("fetch discovery document: %w", err)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("decode discovery document: %w", err)
	}
	if doc.Issuer != issuer {
		return "", fmt.Errorf("discovery document names issuer %q, want %q", doc.Issuer, issuer)
	}
	if doc.JWKSURI == "" {
		return "", errors.New("discovery document has no jwks_uri")
	}
	if err := checkFetchURL(doc.JWKSURI, allowHTTP); err != nil {
		return "", fmt.Errorf("discovered jwks_uri: %w", err)
	}
	return doc.JWKSURI, nil
}

// maxRedirects is how many redirects one discovery or JWKS fetch follows.
const maxRedirects = 5

// guardRedirects returns a copy of c whose redirects must satisfy the rule
// the configured URLs do (checkFetchURL), so an https issuer cannot be
// redirected to plain http on a host the operator never allowed.
func guardRedirects(c *http.Client, allowHTTP bool) *http.Client {
	cp := *c
	next := c.CheckRedirect
	cp.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects {
			return fmt.Errorf("more than %d redirects", maxRedirects)
		}
		if err := checkFetchURL(req.URL.String(), allowHTTP); err != nil {
			return fmt.Errorf("redirect: %w", err)
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
	return &cp
}

// get fetches url and returns a body of at most MaxJWKSSize bytes.
func get(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("unexpected status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxJWKSSize+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if len(body) > MaxJWKSSize {
		return nil, fmt.Errorf("body exceeds %d bytes", MaxJWKSSize)
	}
	return body, nil
}
