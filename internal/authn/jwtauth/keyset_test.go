package jwtauth

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/authn"
)

func TestKeySet_RotationAcceptsNewKeyAfterOneRefetchAndRefusesDroppedKey(t *testing.T) {
	old, next := newTestKey(t, "RS256", "old"), newTestKey(t, "RS256", "new")
	srv := newKeyServer(t, old)
	clock := newFakeClock()
	v := newVerifier(t, clock.use(Config{Issuers: []IssuerConfig{issuerConfig(srv.URL)}}))
	claims := claimsFor(srv.URL, clock.Now())
	oldTok := old.sign(t, claims, nil)
	if err := verify(t, v, oldTok); err != nil {
		t.Fatal(err)
	}
	clock.advance(200 * time.Millisecond) // MinRefreshInterval since the start fetch

	srv.setKeys(t, next, old)
	before := srv.fetches.Load()
	if err := verify(t, v, next.sign(t, claims, nil)); err != nil {
		t.Fatalf("new key: %v", err)
	}
	if got := srv.fetches.Load() - before; got != 1 {
		t.Errorf("fetches for new key = %d, want 1", got)
	}
	if err := verify(t, v, oldTok); err != nil {
		t.Fatalf("old key still published: %v", err)
	}

	srv.setKeys(t, next)
	clock.advance(200 * time.Millisecond)
	// An unknown kid makes the verifier see the old key gone.
	mustBeInvalid(t, verify(t, v, newTestKey(t, "RS256", "other").sign(t, claims, nil)))
	mustBeInvalid(t, verify(t, v, oldTok)) // cached, but its key is no longer published
	mustBeInvalid(t, verify(t, v, old.sign(t, claimsFor(srv.URL, clock.Now()), nil)))
}

func TestKeySet_KeepsLastGoodKeysWhenIssuerIsDown(t *testing.T) {
	key := newTestKey(t, "ES256", "k1")
	srv := newKeyServer(t, key)
	cfg := issuerConfig(srv.URL)
	cfg.MaxKeyAge = 300 * time.Millisecond
	clock := newFakeClock()
	v := newVerifier(t, clock.use(Config{Issuers: []IssuerConfig{cfg}, CacheSize: -1}))
	srv.setDown(true)
	// The keys reach MaxKeyAge: the background refresh fails, and retries
	// MinRefreshInterval later, and fails again.
	for _, d := range []time.Duration{cfg.MaxKeyAge, cfg.MinRefreshInterval} {
		clock.waitForSleepers(t, 1)
		clock.advance(d)
	}
	clock.waitForSleepers(t, 1)
	if got := srv.fetches.Load(); got != 3 {
		t.Errorf("fetches = %d, want the start fetch and two background refresh attempts", got)
	}
	if err := verify(t, v, key.sign(t, claimsFor(srv.URL, clock.Now()), nil)); err != nil {
		t.Fatalf("with issuer down: %v", err)
	}
	// An unknown kid while down is refused as invalid, not a technical fault.
	mustBeInvalid(t, verify(t, v, newTestKey(t, "ES256", "k2").sign(t, claimsFor(srv.URL, clock.Now()), nil)))
	if st := v.Status(); st[0].Keys != 1 || st[0].LastError == nil {
		t.Errorf("status = %+v", st)
	}
}

func TestKeySet_BackgroundRefreshPicksUpNewKeys(t *testing.T) {
	a, b := newTestKey(t, "ES256", "a"), newTestKey(t, "ES256", "b")
	srv := newKeyServer(t, a)
	cfg := issuerConfig(srv.URL)
	cfg.MaxKeyAge = 200 * time.Millisecond
	clock := newFakeClock()
	v := newVerifier(t, clock.use(Config{Issuers: []IssuerConfig{cfg}}))
	srv.setKeys(t, b)
	clock.waitForSleepers(t, 1)
	clock.advance(cfg.MaxKeyAge - time.Millisecond)
	if n := srv.fetches.Load(); n != 1 {
		t.Errorf("fetches before MaxKeyAge = %d, want only the start fetch", n)
	}
	clock.advance(time.Millisecond)
	clock.waitForSleepers(t, 1) // the refresh round is over
	if v.issuers[srv.URL].keys.current().byKid["b"] == nil {
		t.Fatal("background refresh at MaxKeyAge did not fetch the new key")
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	// Closed: neither age nor an unknown kid fetches any more.
	n := srv.fetches.Load()
	clock.advance(10 * cfg.MaxKeyAge)
	_ = verify(t, v, newTestKey(t, "ES256", "c").sign(t, claimsFor(srv.URL, clock.Now()), nil))
	if got := srv.fetches.Load(); got != n {
		t.Errorf("fetches after Close went from %d to %d", n, got)
	}
}

func TestKeySet_UnknownKidStormFetchesAtMostOncePerInterval(t *testing.T) {
	key := newTestKey(t, "ES256", "good")
	srv := newKeyServer(t, key)
	clock := newFakeClock()
	v := newVerifier(t, clock.use(Config{Issuers: []IssuerConfig{issuerConfig(srv.URL)}, CacheSize: -1}))
	attacker := newTestKey(t, "ES256", "")
	claims := claimsFor(srv.URL, clock.Now())
	good := key.sign(t, claims, nil)
	storm := make([]string, 1000)
	for i := range storm {
		kid := make([]byte, 8)
		_, _ = rand.Read(kid)
		storm[i] = attacker.sign(t, claims, map[string]any{"kid": hex.EncodeToString(kid)})
	}

	// One interval after the start fetch, the whole storm falls in the next.
	clock.advance(200 * time.Millisecond)
	before := srv.fetches.Load()
	var wg sync.WaitGroup
	errs := make(chan error, len(storm)+100)
	for i, tok := range storm {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := verify(t, v, tok); !errors.Is(err, authn.ErrInvalidCredentials) {
				errs <- errors.New("storm token: " + errString(err))
			}
			if i%10 == 0 {
				if err := verify(t, v, good); err != nil {
					errs <- errors.New("valid token during storm: " + err.Error())
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := srv.fetches.Load() - before; got != 1 {
		t.Errorf("JWKS fetches during a storm of %d unknown kids within one interval = %d, want 1", len(storm), got)
	}
}

func errString(err error) string {
	if err == nil {
		return "accepted"
	}
	return err.Error()
}

func TestKeySet_OneFetchInFlight(t *testing.T) {
	key := newTestKey(t, "ES256", "k1")
	release := make(chan struct{})
	releaseAll := sync.OnceFunc(func() { close(release) })
	var mu sync.Mutex
	fetches := 0
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		fetches++
		n := fetches
		mu.Unlock()
		if n > 1 {
			<-release // every refetch hangs until released
		}
		_, _ = w.Write(jwksOf(t, key))
	}))
	defer srv.Close()
	defer releaseAll() // before srv.Close, which waits for the handlers
	cfg := IssuerConfig{Issuer: "https://idp.test", Audiences: []string{testAudience}, JWKSURL: srv.URL, MinRefreshInterval: time.Millisecond}
	clock := newFakeClock()
	v := newVerifier(t, clock.use(Config{Issuers: []IssuerConfig{cfg}, CacheSize: -1}))
	unknown := newTestKey(t, "ES256", "")
	var wg sync.WaitGroup
	ask := func(i int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A key of its own sets the header's kid: only a key without one carries ours.
			tok := unknown.sign(t, claimsFor(cfg.Issuer, clock.Now()), map[string]any{"kid": "unknown" + string(rune('a'+i%26))})
			if err := verify(t, v, tok); !errors.Is(err, authn.ErrInvalidCredentials) {
				t.Errorf("token of an unknown kid: %v, want ErrInvalidCredentials", err)
			}
		}()
	}
	clock.advance(time.Millisecond)
	ask(0)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		mu.Lock()
		n := fetches
		mu.Unlock()
		if n == 2 {
			break // the refetch hangs
		}
		if time.Now().After(deadline) {
			t.Fatal("no refetch for an unknown kid")
		}
	}
	// Each request now comes a second after the one before, past the rate
	// limit: only joining the fetch in flight keeps them from starting
	// fetches of their own.
	clock.setStep(time.Second)
	for i := 1; i < 50; i++ {
		ask(i)
	}
	time.Sleep(100 * time.Millisecond) // scheduling, not the clock: let them reach the fetch in flight
	clock.setStep(0)                   // a late request may start one more fetch, not one each
	releaseAll()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	// 1 start fetch + 1 joined refetch (+1 if a late request started one after it finished).
	if fetches > 3 {
		t.Errorf("fetches = %d, want one in flight at a time", fetches)
	}
}

func TestParseJWKS_RefusesUnsafeKeys(t *testing.T) {
	good := newTestKey(t, "ES256", "good")
	weakRaw, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	weakJWK := `{"kty":"RSA","kid":"weak","e":"AQAB","n":"` + base64.RawURLEncoding.EncodeToString(weakRaw.N.Bytes()) + `"}`
	dupA, dupB := newTestKey(t, "ES256", "dup"), newTestKey(t, "ES256", "dup")
	privJSON := mustJSON(t, good.priv)
	set := strings.Replace(string(jwksOf(t, good, dupA, dupB)), `[`, `[`+weakJWK+`,`, 1)
	snap, err := parseJWKS([]byte(set), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.all) != 1 || snap.byKid["good"] == nil {
		t.Errorf("kept %d keys (%v), want only the good one", len(snap.all), snap.byKid)
	}
	for name, body := range map[string]string{
		"private key": `{"keys":[` + string(privJSON) + `]}`,
		"symmetric":   `{"keys":[{"kty":"oct","kid":"s","k":"c2VjcmV0"}]}`,
		"only weak":   `{"keys":[` + weakJWK + `]}`,
		"enc key":     `{"keys":[` + strings.Replace(string(mustJSON(t, good.pub)), `{`, `{"use":"enc",`, 1) + `]}`,
		"not json":    `<html>`,
	} {
		if _, err := parseJWKS([]byte(body), nil); err == nil {
			t.Errorf("%s: key set accepted", name)
		}
	}
}

func TestKeySet_BodyOverCapIsRefused(t *testing.T) {
	key := newTestKey(t, "ES256", "k1")
	srv := newKeyServer(t, key)
	srv.setBody([]byte(`{"keys":[],"pad":"` + strings.Repeat("x", MaxJWKSSize) + `"}`))
	v := newVerifier(t, Config{Issuers: []IssuerConfig{issuerConfig(srv.URL)}})
	st := v.Status()
	if st[0].Keys != 0 || st[0].LastError == nil || !strings.Contains(st[0].LastError.Error(), "exceeds") {
		t.Errorf("status = %+v, want body cap error", st)
	}
}

func TestKeySet_FetchTimesOut(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(hang)
	cfg := IssuerConfig{Issuer: "https://idp.test", Audiences: []string{testAudience}, JWKSURL: srv.URL}
	start := time.Now()
	v := newVerifier(t, Config{Issuers: []IssuerConfig{cfg}, FetchTimeout: 200 * time.Millisecond})
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("New took %v with a hanging issuer", d)
	}
	if st := v.Status(); st[0].LastError == nil {
		t.Error("no fetch error recorded")
	}
}

func TestDiscovery_IssuerMismatchIsRefused(t *testing.T) {
	key := newTestKey(t, "ES256", "k1")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/jwks" {
			_, _ = w.Write(jwksOf(t, key))
			return
		}
		_, _ = w.Write([]byte(`{"issuer":"https://evil.example","jwks_uri":"http://` + r.Host + `/jwks"}`))
	}))
	defer srv.Close()
	v := newVerifier(t, Config{Issuers: []IssuerConfig{issuerConfig(srv.URL)}})
	err := verify(t, v, key.sign(t, claimsFor(srv.URL, time.Now()), nil))
	if !errors.Is(err, ErrKeysUnavailable) {
		t.Fatalf("err = %v, want ErrKeysUnavailable", err)
	}
	if st := v.Status(); st[0].LastError == nil || !strings.Contains(st[0].LastError.Error(), "names issuer") {
		t.Errorf("status = %+v", st)
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// roundTripFunc is an http.RoundTripper fake.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A redirect is held to the rule the configured URL was: an https JWKS URL
// that redirects to plain http on another host must not have its keys read
// off the network in the clear.
func TestKeySet_RedirectToPlainHTTPIsRefused(t *testing.T) {
	key := newTestKey(t, "ES256", "k1")
	var cleartext atomic.Int64
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		rec := httptest.NewRecorder()
		if r.URL.Scheme == "https" {
			http.Redirect(rec, r, "http://keys.example/jwks", http.StatusFound)
		} else {
			cleartext.Add(1)
			_, _ = rec.Write(jwksOf(t, key))
		}
		return rec.Result(), nil
	})}
	cfg := IssuerConfig{Issuer: "https://idp.test", Audiences: []string{testAudience}, JWKSURL: "https://idp.test/jwks"}
	v := newVerifier(t, Config{Issuers: []IssuerConfig{cfg}, HTTPClient: client})
	if n := cleartext.Load(); n != 0 {
		t.Errorf("%d JWKS requests went over plain http", n)
	}
	if st := v.Status(); st[0].Keys != 0 || st[0].LastError == nil {
		t.Errorf("status = %+v, want no keys and a fetch error", st)
	}
}
