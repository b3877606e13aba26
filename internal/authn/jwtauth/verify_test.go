package jwtauth

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gatehousehq/gatehouse/internal/authn"
	"github.com/gatehousehq/gatehouse/internal/principal"
)

func TestVerifyToken_AcceptsEachAlgorithmFoundByDiscovery(t *testing.T) {
	for _, alg := range []string{"RS256", "PS256", "ES256", "ES384", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			key := newTestKey(t, alg, "k-"+alg)
			srv := newKeyServer(t, key)
			v := newVerifier(t, Config{Issuers: []IssuerConfig{issuerConfig(srv.URL)}})
			tok := key.sign(t, claimsFor(srv.URL, time.Now()), nil)
			p, err := v.VerifyToken(context.Background(), tok)
			if err != nil {
				t.Fatal(err)
			}
			want := &principal.Principal{
				Subject: "alice", Roles: []string{"agent"}, Scopes: []string{"read", "write"},
				Method: principal.MethodJWT, Issuer: srv.URL,
			}
			if diff := cmp.Diff(want, p, cmpopts.IgnoreFields(principal.Principal{}, "Claims")); diff != "" {
				t.Errorf("principal (-want +got):\n%s", diff)
			}
			if p.Claims["sub"] != "alice" || p.Claims["iss"] != srv.URL {
				t.Errorf("claims = %v", p.Claims)
			}
		})
	}
}

func TestVerifyToken_MapsClaimsToPrincipal(t *testing.T) {
	key := newTestKey(t, "ES256", "k1")
	now := time.Now()
	tests := []struct {
		name       string
		rolesClaim string
		subClaim   string
		extra      map[string]any
		wantSub    string
		wantRoles  []string
		wantScopes []string
	}{
		{"keycloak realm roles", "realm_access.roles", "", map[string]any{
			"realm_access": map[string]any{"roles": []string{"agent", "admin"}}, "roles": nil,
		}, "alice", []string{"agent", "admin"}, []string{"read", "write"}},
		{"groups", "groups", "", map[string]any{"groups": []string{"ops"}}, "alice", []string{"ops"}, []string{"read", "write"}},
		{"namespaced claim with dots", "https://gatehouse.example/roles", "", map[string]any{
			"https://gatehouse.example/roles": []string{"viewer"},
		}, "alice", []string{"viewer"}, []string{"read", "write"}},
		{"single string role", "role", "", map[string]any{"role": "admin"}, "alice", []string{"admin"}, []string{"read", "write"}},
		{"scp array", "", "", map[string]any{"scope": nil, "scp": []string{"claims.read"}}, "alice", []string{"agent"}, []string{"claims.read"}},
		{"scp string", "", "", map[string]any{"scope": nil, "scp": "a b"}, "alice", []string{"agent"}, []string{"a", "b"}},
		{"custom subject claim", "", "oid", map[string]any{"oid": "0000-1111"}, "0000-1111", []string{"agent"}, []string{"read", "write"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ic := IssuerConfig{Issuer: "https://idp.test", Audiences: []string{testAudience}, Algorithms: []string{"ES256"},
				JWKS: jwksOf(t, key), RolesClaim: tt.rolesClaim, SubjectClaim: tt.subClaim}
			v := newVerifier(t, Config{Issuers: []IssuerConfig{ic}})
			claims := claimsFor(ic.Issuer, now)
			for k, val := range tt.extra {
				if val == nil {
					delete(claims, k)
				} else {
					claims[k] = val
				}
			}
			p, err := v.VerifyToken(context.Background(), key.sign(t, claims, nil))
			if err != nil {
				t.Fatal(err)
			}
			got := []any{p.Subject, p.Roles, p.Scopes}
			want := []any{tt.wantSub, tt.wantRoles, tt.wantScopes}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestVerifyToken_NonJWTIsNotMine(t *testing.T) {
	key := newTestKey(t, "ES256", "k1")
	v := newVerifier(t, Config{Issuers: []IssuerConfig{{Issuer: "https://idp.test", Audiences: []string{testAudience}, JWKS: jwksOf(t, key)}}})
	for _, tok := range []string{"gh_api_key_0123456789", "", "abc.def.ghi"} {
		if _, err := v.VerifyToken(context.Background(), tok); !errors.Is(err, authn.ErrNotMine) {
			t.Errorf("VerifyToken(%q) err = %v, want ErrNotMine", tok, err)
		}
	}
}

func TestVerifyToken_RequiredTyp(t *testing.T) {
	key := newTestKey(t, "ES256", "k1")
	ic := IssuerConfig{Issuer: "https://idp.test", Audiences: []string{testAudience}, JWKS: jwksOf(t, key), RequiredTyp: "at+jwt"}
	v := newVerifier(t, Config{Issuers: []IssuerConfig{ic}})
	claims := claimsFor(ic.Issuer, time.Now())
	for typ, ok := range map[string]bool{"at+jwt": true, "application/AT+JWT": true, "JWT": false, "": false} {
		hdr := map[string]any{}
		if typ != "" {
			hdr["typ"] = typ
		}
		err := verify(t, v, key.sign(t, claims, hdr))
		if ok && err != nil {
			t.Errorf("typ %q: %v", typ, err)
		}
		if !ok && !errors.Is(err, authn.ErrInvalidCredentials) {
			t.Errorf("typ %q: err = %v, want invalid", typ, err)
		}
	}
}

func TestVerifyToken_TokenWithoutKidNeedsExactlyOneFittingKey(t *testing.T) {
	a, b := newTestKey(t, "ES256", ""), newTestKey(t, "ES256", "")
	claims := claimsFor("https://idp.test", time.Now())
	one := newVerifier(t, Config{Issuers: []IssuerConfig{{Issuer: "https://idp.test", Audiences: []string{testAudience}, JWKS: jwksOf(t, a)}}})
	if err := verify(t, one, a.sign(t, claims, nil)); err != nil {
		t.Fatalf("single key: %v", err)
	}
	two := newVerifier(t, Config{Issuers: []IssuerConfig{{Issuer: "https://idp.test", Audiences: []string{testAudience}, JWKS: jwksOf(t, a, b)}}})
	mustBeInvalid(t, verify(t, two, a.sign(t, claims, nil)))
}

func TestVerifyToken_LeewayAppliesToExpAndNbf(t *testing.T) {
	key := newTestKey(t, "ES256", "k1")
	now := time.Unix(1_800_000_000, 0)
	clock := now
	ic := IssuerConfig{Issuer: "https://idp.test", Audiences: []string{testAudience}, JWKS: jwksOf(t, key), Leeway: 30 * time.Second}
	v := newVerifier(t, Config{Issuers: []IssuerConfig{ic}, Now: func() time.Time { return clock }, CacheSize: -1})
	claims := claimsFor(ic.Issuer, now)
	claims["exp"] = now.Add(-20 * time.Second).Unix()
	if err := verify(t, v, key.sign(t, claims, nil)); err != nil {
		t.Errorf("expired within leeway: %v", err)
	}
	claims["exp"] = now.Add(-31 * time.Second).Unix()
	mustBeInvalid(t, verify(t, v, key.sign(t, claims, nil)))
	claims["exp"], claims["nbf"] = now.Add(time.Hour).Unix(), now.Add(20*time.Second).Unix()
	if err := verify(t, v, key.sign(t, claims, nil)); err != nil {
		t.Errorf("nbf within leeway: %v", err)
	}
	claims["nbf"] = now.Add(31 * time.Second).Unix()
	mustBeInvalid(t, verify(t, v, key.sign(t, claims, nil)))
	claims["nbf"], claims["iat"] = now.Unix(), now.Add(time.Minute).Unix()
	mustBeInvalid(t, verify(t, v, key.sign(t, claims, nil)))
}

func TestVerifyToken_IssuerWithoutKeysIsTechnicalFailure(t *testing.T) {
	key := newTestKey(t, "ES256", "k1")
	srv := newKeyServer(t, key)
	srv.setDown(true)
	clock := newFakeClock()
	v := newVerifier(t, clock.use(Config{Issuers: []IssuerConfig{issuerConfig(srv.URL)}}))
	err := verify(t, v, key.sign(t, claimsFor(srv.URL, clock.Now()), nil))
	if !errors.Is(err, ErrKeysUnavailable) || errors.Is(err, authn.ErrInvalidCredentials) {
		t.Fatalf("err = %v, want ErrKeysUnavailable", err)
	}
	if st := v.Status(); len(st) != 1 || st[0].Keys != 0 || st[0].LastError == nil {
		t.Errorf("status = %+v", st)
	}
	srv.setDown(false)
	clock.advance(200 * time.Millisecond) // MinRefreshInterval
	if err := verify(t, v, key.sign(t, claimsFor(srv.URL, clock.Now()), nil)); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
}

func TestNew_RejectsUnsafeConfig(t *testing.T) {
	key := newTestKey(t, "ES256", "k1")
	jwks := jwksOf(t, key)
	base := func() IssuerConfig {
		return IssuerConfig{Issuer: "https://idp.test", Audiences: []string{testAudience}, JWKS: jwks}
	}
	tests := []struct {
		name string
		mod  func(*IssuerConfig)
	}{
		{"no audience", func(c *IssuerConfig) { c.Audiences = nil }},
		{"empty audience", func(c *IssuerConfig) { c.Audiences = []string{""} }},
		{"no issuer", func(c *IssuerConfig) { c.Issuer = "" }},
		{"alg none", func(c *IssuerConfig) { c.Algorithms = []string{"none"} }},
		{"HMAC", func(c *IssuerConfig) { c.Algorithms = []string{"RS256", "HS256"} }},
		{"http discovery off loopback", func(c *IssuerConfig) { c.JWKS = nil; c.Issuer = "http://idp.example.com" }},
		{"http jwks off loopback", func(c *IssuerConfig) { c.JWKS = nil; c.JWKSURL = "http://idp.example.com/keys" }},
		{"jwks and jwks_url", func(c *IssuerConfig) { c.JWKSURL = "https://idp.test/keys" }},
		{"huge leeway", func(c *IssuerConfig) { c.Leeway = time.Hour }},
		{"static jwks with private key", func(c *IssuerConfig) {
			c.JWKS = []byte(`{"keys":[` + string(mustJSON(t, key.priv)) + `]}`)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ic := base()
			tt.mod(&ic)
			if v, err := New(context.Background(), Config{Issuers: []IssuerConfig{ic}}); err == nil {
				v.Close()
				t.Fatal("New succeeded")
			}
		})
	}
	if _, err := New(context.Background(), Config{Issuers: []IssuerConfig{base(), base()}}); err == nil {
		t.Error("duplicate issuer accepted")
	}
	if _, err := New(context.Background(), Config{}); err == nil {
		t.Error("no issuers accepted")
	}
}
