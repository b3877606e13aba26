package calltoken

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

const maxJWKSBytes = 1 << 20

// algorithms are the only ones Gatehouse signs call tokens with.
var algorithms = map[string]jwa.SignatureAlgorithm{"ES256": jwa.ES256(), "EdDSA": jwa.EdDSA()}

// keySet is Gatehouse's published keys, fetched on first use and again on
// an unknown kid (at most once per minRefresh); the last good set is kept
// when a fetch fails.
type keySet struct {
	url        string
	client     *http.Client
	now        func() time.Time
	minRefresh time.Duration

	mu      sync.Mutex // held across a fetch: one in flight
	set     jwk.Set
	fetched time.Time
}

// verify checks token's signature with the key its kid names and returns
// its payload.
func (ks *keySet) verify(ctx context.Context, token string) ([]byte, error) {
	alg, kid, err := header(token)
	if err != nil {
		return nil, err
	}
	key, err := ks.key(ctx, kid)
	if err != nil {
		return nil, err
	}
	if ka, ok := key.Algorithm(); !ok || ka.String() != alg.String() {
		return nil, fmt.Errorf("%w: algorithm does not match the key", ErrInvalid)
	}
	payload, err := jws.Verify([]byte(token), jws.WithKey(alg, key))
	if err != nil {
		return nil, fmt.Errorf("%w: bad signature", ErrInvalid)
	}
	return payload, nil
}

func header(token string) (jwa.SignatureAlgorithm, string, error) {
	var none jwa.SignatureAlgorithm
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return none, "", fmt.Errorf("%w: not a compact JWS", ErrInvalid)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return none, "", fmt.Errorf("%w: malformed header", ErrInvalid)
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		return none, "", fmt.Errorf("%w: malformed header", ErrInvalid)
	}
	for _, name := range []string{"crit", "jku", "x5u", "jwk", "x5c"} {
		if _, ok := h[name]; ok {
			return none, "", fmt.Errorf("%w: refused header %s", ErrInvalid, name)
		}
	}
	algName, _ := h["alg"].(string)
	alg, ok := algorithms[algName]
	kid, _ := h["kid"].(string)
	if !ok || kid == "" {
		return none, "", fmt.Errorf("%w: want alg ES256 or EdDSA and a kid", ErrInvalid)
	}
	return alg, kid, nil
}

func (ks *keySet) key(ctx context.Context, kid string) (jwk.Key, error) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.set != nil {
		if k, ok := ks.set.LookupKeyID(kid); ok {
			return k, nil
		}
		if ks.now().Sub(ks.fetched) < ks.minRefresh {
			return nil, fmt.Errorf("%w: unknown key id", ErrInvalid)
		}
	}
	if err := ks.fetch(ctx); err != nil {
		if ks.set == nil {
			return nil, err
		}
	}
	if k, ok := ks.set.LookupKeyID(kid); ok {
		return k, nil
	}
	return nil, fmt.Errorf("%w: unknown key id", ErrInvalid)
}

// fetch reads the key set; called with mu held.
func (ks *keySet) fetch(ctx context.Context) error {
	ks.fetched = ks.now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ks.url, nil)
	if err != nil {
		return fmt.Errorf("fetch call token keys: %w", err)
	}
	resp, err := ks.client.Do(req)
	if err != nil {
		return fmt.Errorf("fetch call token keys: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch call token keys: status %d", resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil || len(b) > maxJWKSBytes {
		return errors.New("fetch call token keys: unreadable or too large")
	}
	set, err := jwk.Parse(b)
	if err != nil {
		return fmt.Errorf("fetch call token keys: %w", err)
	}
	ks.set = set
	return nil
}
