package authn_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehousehq/gatehouse/internal/authn"
	"github.com/gatehousehq/gatehouse/internal/principal"
)

// verifierFunc is a TokenVerifier fake.
type verifierFunc func(ctx context.Context, token string) (*principal.Principal, error)

func (f verifierFunc) VerifyToken(ctx context.Context, token string) (*principal.Principal, error) {
	return f(ctx, token)
}

// certFake is a CertAuthenticator fake.
type certFake struct {
	p   *principal.Principal
	err error
}

func (c certFake) AuthenticateCert(*http.Request) (*principal.Principal, error) { return c.p, c.err }

func digestOf(t *testing.T, key string) [sha256.Size]byte {
	t.Helper()
	return sha256.Sum256([]byte(key))
}

func TestAPIKeys_VerifyTokenReturnsConfiguredPrincipal(t *testing.T) {
	keyA, keyB := "gh_alice-key", "gh_bob-key"
	dA := digestOf(t, keyA)
	// A digest sharing all but the last byte with alice's: a compare that
	// stopped early, or matched on a prefix, would confuse them.
	near := dA
	near[len(near)-1] ^= 0xff
	keys := []authn.APIKey{
		{Digest: dA, Subject: "alice", Roles: []string{"agent"}, Claims: map[string]string{"customer_id": "C-100"}},
		{Digest: near, Subject: "mallory", Roles: []string{"admin"}},
		{Digest: digestOf(t, keyB), Subject: "bob", Roles: []string{"viewer", "auditor"}},
	}
	v := authn.NewAPIKeys(keys)
	// Mutating the caller's slice after construction must not change the verifier.
	keys[0].Subject = "changed"

	tests := []struct {
		name  string
		token string
		want  *principal.Principal
	}{
		{"first key", keyA, &principal.Principal{Subject: "alice", Roles: []string{"agent"}, Claims: map[string]any{"customer_id": "C-100"}, Method: principal.MethodAPIKey}},
		{"key after a near-duplicate digest", keyB, &principal.Principal{Subject: "bob", Roles: []string{"viewer", "auditor"}, Claims: map[string]any{}, Method: principal.MethodAPIKey}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := v.VerifyToken(context.Background(), tc.token)
			if err != nil {
				t.Fatalf("VerifyToken: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("principal (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAPIKeys_UnknownKeyIsNotMine(t *testing.T) {
	v := authn.NewAPIKeys([]authn.APIKey{{Digest: digestOf(t, "gh_known"), Subject: "known"}})
	for _, tok := range []string{"gh_unknown", "gh_known ", "GH_KNOWN", ""} {
		p, err := v.VerifyToken(context.Background(), tok)
		if !errors.Is(err, authn.ErrNotMine) || p != nil {
			t.Errorf("VerifyToken(%q) = %v, %v; want nil, ErrNotMine", tok, p, err)
		}
	}
}

// The key's principal is made once and shared; what a request gets from
// the chain is its own, so changing it changes no later request's.
func TestAPIKeys_RequestsPrincipalDoesNotAliasConfig(t *testing.T) {
	v := authn.NewAPIKeys([]authn.APIKey{{Digest: digestOf(t, "k"), Subject: "s", Roles: []string{"agent"}, Claims: map[string]string{"c": "1"}}})
	c := &authn.Chain{Verifiers: []authn.TokenVerifier{v}}
	p, err := c.Authenticate(request("Bearer k"))
	if err != nil {
		t.Fatal(err)
	}
	p.Roles[0] = "admin"
	p.Claims["c"] = "2"
	p2, err := c.Authenticate(request("Bearer k"))
	if err != nil {
		t.Fatal(err)
	}
	if p2.Roles[0] != "agent" || p2.Claims["c"] != "1" {
		t.Errorf("second principal = %+v; mutating the first leaked into the configuration", p2)
	}
}

func TestNewKey_MakesDistinct256BitKeysWithMatchingDigest(t *testing.T) {
	seen := map[string]bool{}
	for range 20 {
		key, digestHex, err := authn.NewKey()
		if err != nil {
			t.Fatal(err)
		}
		raw, ok := strings.CutPrefix(key, "gh_")
		if !ok {
			t.Fatalf("key %q lacks the gh_ prefix", key)
		}
		b, err := base64.RawURLEncoding.DecodeString(raw)
		if err != nil || len(b) != 32 {
			t.Fatalf("key %q: body is %d bytes (err %v); want 32", key, len(b), err)
		}
		sum := sha256.Sum256([]byte(key))
		if digestHex != hex.EncodeToString(sum[:]) {
			t.Errorf("digest %s does not match key", digestHex)
		}
		d, err := authn.ParseDigest(digestHex)
		if err != nil {
			t.Fatalf("ParseDigest(own digest): %v", err)
		}
		p, err := authn.NewAPIKeys([]authn.APIKey{{Digest: d, Subject: "x"}}).VerifyToken(context.Background(), key)
		if err != nil || p.Subject != "x" {
			t.Errorf("new key does not verify against its digest: %v, %v", p, err)
		}
		if seen[key] {
			t.Fatalf("NewKey repeated a key: %s", key)
		}
		seen[key] = true
	}
}

func TestParseDigest_RejectsBadHexAndLength(t *testing.T) {
	good := strings.Repeat("ab", 32)
	if _, err := authn.ParseDigest(good); err != nil {
		t.Fatalf("ParseDigest(valid): %v", err)
	}
	for name, s := range map[string]string{
		"empty":      "",
		"too short":  good[:62],
		"too long":   good + "ab",
		"odd length": good[:63],
		"not hex":    strings.Repeat("zz", 32),
		"with space": " " + good[1:],
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := authn.ParseDigest(s); err == nil {
				t.Errorf("ParseDigest(%q) succeeded; want an error", s)
			}
		})
	}
}

func TestBearerToken(t *testing.T) {
	tests := []struct {
		name    string
		header  string // "" = no Authorization header
		want    string
		wantErr error
	}{
		{"bearer", "Bearer x", "x", nil},
		{"scheme is case-insensitive", "bearer x", "x", nil},
		{"surrounding spaces trimmed", "Bearer   tok  ", "tok", nil},
		{"no header", "", "", authn.ErrNoCredentials},
		{"basic", "Basic dXNlcjpwYXNz", "", authn.ErrNoCredentials},
		{"scheme only", "Bearer", "", authn.ErrNoCredentials},
		{"scheme and blanks", "Bearer   ", "", authn.ErrNoCredentials},
		{"no space", "Bearerx", "", authn.ErrNoCredentials},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/chat", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			got, err := authn.BearerToken(r)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("err = %v; want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("token = %q; want %q", got, tc.want)
			}
		})
	}
}

func request(auth string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/chat", nil)
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	return r
}

func TestChain_OversizedTokenIsInvalidBeforeAnyVerifier(t *testing.T) {
	called := false
	c := &authn.Chain{Verifiers: []authn.TokenVerifier{verifierFunc(func(context.Context, string) (*principal.Principal, error) {
		called = true
		return &principal.Principal{Subject: "s"}, nil
	})}}
	_, err := c.Authenticate(request("Bearer " + strings.Repeat("a", 8<<10+1)))
	if !errors.Is(err, authn.ErrInvalidCredentials) {
		t.Errorf("err = %v; want ErrInvalidCredentials", err)
	}
	if called {
		t.Error("verifier saw an oversized token")
	}
	// Exactly 8 KiB is still passed on.
	if _, err := c.Authenticate(request("Bearer " + strings.Repeat("a", 8<<10))); err != nil {
		t.Errorf("8 KiB token: %v", err)
	}
}

func TestChain_FirstVerifierThatClaimsTheTokenDecides(t *testing.T) {
	notMine := verifierFunc(func(context.Context, string) (*principal.Principal, error) { return nil, authn.ErrNotMine })
	subject := func(s string) authn.TokenVerifier {
		return verifierFunc(func(context.Context, string) (*principal.Principal, error) {
			return &principal.Principal{Subject: s}, nil
		})
	}
	failing := func(err error) authn.TokenVerifier {
		return verifierFunc(func(context.Context, string) (*principal.Principal, error) { return nil, err })
	}
	technical := errors.New("jwks endpoint down")
	invalid := errors.Join(authn.ErrInvalidCredentials, errors.New("expired"))

	tests := []struct {
		name      string
		verifiers []authn.TokenVerifier
		want      string
		wantErr   error
	}{
		{"skips not-mine", []authn.TokenVerifier{notMine, subject("second"), subject("third")}, "second", nil},
		{"first answer wins", []authn.TokenVerifier{subject("first"), subject("second")}, "first", nil},
		{"invalid stops the chain", []authn.TokenVerifier{failing(invalid), subject("second")}, "", authn.ErrInvalidCredentials},
		{"technical error passes through", []authn.TokenVerifier{notMine, failing(technical), subject("third")}, "", technical},
		{"nobody claims it", []authn.TokenVerifier{notMine, notMine}, "", authn.ErrInvalidCredentials},
		{"no verifiers", nil, "", authn.ErrInvalidCredentials},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &authn.Chain{Verifiers: tc.verifiers}
			p, err := c.Authenticate(request("Bearer tok"))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || p != nil {
					t.Fatalf("Authenticate = %v, %v; want nil, %v", p, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if p.Subject != tc.want {
				t.Errorf("subject = %q; want %q", p.Subject, tc.want)
			}
		})
	}
}

func TestChain_ReturnedPrincipalIsACopy(t *testing.T) {
	own := &principal.Principal{Subject: "alice", Claims: map[string]any{"customer_id": "C-100"}}
	c := &authn.Chain{Verifiers: []authn.TokenVerifier{verifierFunc(func(context.Context, string) (*principal.Principal, error) {
		return own, nil
	})}}
	p, err := c.Authenticate(request("Bearer tok"))
	if err != nil {
		t.Fatal(err)
	}
	if p == own {
		t.Fatal("chain returned the verifier's own principal")
	}
	p.Subject = "mallory"
	p.Claims["customer_id"] = "C-200"
	p.CertIdentity = "cert"
	want := &principal.Principal{Subject: "alice", Claims: map[string]any{"customer_id": "C-100"}}
	if diff := cmp.Diff(want, own); diff != "" {
		t.Errorf("verifier's principal changed (-want +got):\n%s", diff)
	}
}

func TestChain_ClientCertificate(t *testing.T) {
	certP := &principal.Principal{Subject: "svc.example", Method: principal.MethodMTLS}
	keys := authn.NewAPIKeys([]authn.APIKey{{Digest: sha256.Sum256([]byte("good")), Subject: "alice", Roles: []string{"agent"}}})
	certDown := errors.New("cert store unavailable")

	tests := []struct {
		name    string
		cert    certFake
		auth    string
		want    *principal.Principal
		wantErr error
	}{
		{"cert only", certFake{p: certP}, "", certP, nil},
		{"cert and valid token", certFake{p: certP}, "Bearer good",
			&principal.Principal{Subject: "alice", Roles: []string{"agent"}, Claims: map[string]any{}, Method: principal.MethodAPIKey, CertIdentity: "svc.example"}, nil},
		{"cert and bad token", certFake{p: certP}, "Bearer bad", nil, authn.ErrInvalidCredentials},
		{"cert and non-bearer header", certFake{p: certP}, "Basic dXNlcjpwYXNz", nil, authn.ErrNoCredentials},
		{"cert error", certFake{err: certDown}, "Bearer good", nil, certDown},
		{"no cert, no token", certFake{}, "", nil, authn.ErrNoCredentials},
		{"no cert, valid token", certFake{}, "Bearer good",
			&principal.Principal{Subject: "alice", Roles: []string{"agent"}, Claims: map[string]any{}, Method: principal.MethodAPIKey}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &authn.Chain{Verifiers: []authn.TokenVerifier{keys}, Cert: tc.cert}
			got, err := c.Authenticate(request(tc.auth))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || got != nil {
					t.Fatalf("Authenticate = %v, %v; want nil, %v", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("principal (-want +got):\n%s", diff)
			}
		})
	}
}

// A verifier may hand every request with the same token one cached
// principal; nothing a request does to its principal may reach the next.
func TestChain_ReturnedPrincipalSharesNothingWithTheVerifier(t *testing.T) {
	own := &principal.Principal{
		Subject: "alice", Roles: []string{"viewer"}, Scopes: []string{"read"},
		Claims: map[string]any{
			"realm_access": map[string]any{"roles": []any{"viewer"}},
			"groups":       []any{"staff"},
		},
	}
	c := &authn.Chain{Verifiers: []authn.TokenVerifier{verifierFunc(func(context.Context, string) (*principal.Principal, error) {
		return own, nil
	})}}
	p, err := c.Authenticate(request("Bearer tok"))
	if err != nil {
		t.Fatal(err)
	}
	p.Roles[0] = "admin"
	p.Scopes[0] = "admin"
	p.Claims["realm_access"].(map[string]any)["roles"].([]any)[0] = "admin"
	p.Claims["groups"].([]any)[0] = "admins"
	want := &principal.Principal{
		Subject: "alice", Roles: []string{"viewer"}, Scopes: []string{"read"},
		Claims: map[string]any{
			"realm_access": map[string]any{"roles": []any{"viewer"}},
			"groups":       []any{"staff"},
		},
	}
	if diff := cmp.Diff(want, own); diff != "" {
		t.Errorf("verifier's principal changed (-want +got):\n%s", diff)
	}
}

// Several Authorization headers are one ambiguous request: a proxy in front
// may read the other one. It is refused whatever the order, also when a
// client certificate alone would have been enough.
func TestChain_SeveralAuthorizationHeadersAreRefused(t *testing.T) {
	keys := authn.NewAPIKeys([]authn.APIKey{{Digest: sha256.Sum256([]byte("good")), Subject: "alice", Roles: []string{"agent"}}})
	certP := &principal.Principal{Subject: "svc.example", Method: principal.MethodMTLS}
	tests := []struct {
		name    string
		headers []string
		cert    authn.CertAuthenticator
	}{
		{"valid first", []string{"Bearer good", "Bearer bad"}, nil},
		{"valid last", []string{"Bearer bad", "Bearer good"}, nil},
		{"the same valid token twice", []string{"Bearer good", "Bearer good"}, nil},
		{"valid and non-bearer", []string{"Bearer good", "Basic dXNlcjpwYXNz"}, nil},
		{"empty and valid", []string{"", "Bearer good"}, nil},
		{"certificate and two empty headers", []string{"", ""}, certFake{p: certP}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/chat", nil)
			for _, h := range tc.headers {
				r.Header.Add("Authorization", h)
			}
			c := &authn.Chain{Verifiers: []authn.TokenVerifier{keys}, Cert: tc.cert}
			p, err := c.Authenticate(r)
			if !errors.Is(err, authn.ErrInvalidCredentials) || p != nil {
				t.Fatalf("Authenticate = %v, %v; want nil, ErrInvalidCredentials", p, err)
			}
		})
	}
}
