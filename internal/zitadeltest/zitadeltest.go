// Package zitadeltest runs the OpenID provider of github.com/zitadel/oidc
// (pkg/op, with its example server and storage) in-process for the token
// exchange tests: a real RFC 8693 implementation, not a stub.
package zitadeltest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// The client gatehouse exchanges tokens as.
const (
	ClientID     = "gatehouse"
	ClientSecret = "exchange-secret"
)

// The identity provider of the token-exchange tests is zitadel/oidc's
// OpenID provider (pkg/op) with its example server and storage, run
// in-process. Configured, not stubbed: its users (alice may be exchanged
// for, bob may not — the example storage's impersonation rule), the key
// its service accounts sign JWT-profile assertions with, and JWT access
// tokens for that grant, so a caller holds a JWT gatehouse can verify.
type zitadelStorage struct {
	*storage.Storage
	assertionKey *rsa.PublicKey
}

func (s *zitadelStorage) JWTProfileTokenType(context.Context, op.TokenRequest) (op.AccessTokenType, error) {
	return op.AccessTokenTypeJWT, nil
}

func (s *zitadelStorage) GetKeyByIDAndClientID(_ context.Context, keyID, clientID string) (*jose.JSONWebKey, error) {
	if keyID != "test-key" || (clientID != "alice" && clientID != "bob") {
		return nil, fmt.Errorf("no key %s for %s", keyID, clientID)
	}
	return &jose.JSONWebKey{KeyID: keyID, Use: "sig", Key: s.assertionKey}, nil
}

type users map[string]*storage.User

func (u users) GetUserByID(id string) *storage.User { return u[id] }
func (u users) GetUserByUsername(name string) *storage.User {
	for _, x := range u {
		if x.Username == name {
			return x
		}
	}
	return nil
}
func (u users) ExampleClientID() string { return "alice" }

// Provider is the running provider.
type Provider struct {
	*httptest.Server
	key jwk.Key
	// Exchanges counts the token-exchange requests received.
	Exchanges atomic.Int64
}

// Start runs the provider on loopback until the test ends. Client
// ClientID/ClientSecret may exchange tokens.
func Start(t testing.TB) *Provider {
	t.Helper()
	raw, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	priv, _ := jwk.Import(raw)
	_ = priv.Set(jwk.KeyIDKey, "test-key")
	z := &Provider{key: priv}
	var handler http.Handler
	z.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth/token" && r.ParseForm() == nil && r.PostForm.Get("grant_type") == "urn:ietf:params:oauth:grant-type:token-exchange" {
			z.Exchanges.Add(1)
		}
		handler.ServeHTTP(w, r)
	}))
	t.Cleanup(z.Close)
	st := storage.NewStorageWithClients(users{
		"alice": {ID: "alice", Username: "alice", IsAdmin: true},
		"bob":   {ID: "bob", Username: "bob"},
	}, map[string]*storage.Client{ClientID: storage.WebClient(ClientID, ClientSecret, "http://127.0.0.1/cb")})
	handler = exampleop.SetupServer(z.URL, &zitadelStorage{Storage: st, assertionKey: &raw.PublicKey}, nil, false)
	return z
}

// UserToken is subject's JWT access token (alice or bob), by the
// JWT-profile grant.
func (z *Provider) UserToken(t testing.TB, subject string) string {
	t.Helper()
	now := time.Now()
	a, _ := jwt.NewBuilder().Issuer(subject).Subject(subject).Audience([]string{z.URL}).
		IssuedAt(now).Expiration(now.Add(time.Minute)).Build()
	assertion, err := jwt.Sign(a, jwt.WithKey(jwa.RS256(), z.key))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.PostForm(z.URL+"/oauth/token", url.Values{
		"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {string(assertion)}, "scope": {"openid"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &out); err != nil || resp.StatusCode != 200 || !strings.HasPrefix(out.AccessToken, "eyJ") {
		t.Fatalf("JWT-profile grant for %s: %d %s", subject, resp.StatusCode, body)
	}
	return out.AccessToken
}

// UserinfoSubject is whom the provider says token stands for.
func (z *Provider) UserinfoSubject(t testing.TB, token string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", z.URL+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var info struct {
		Sub string `json:"sub"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&info)
	return info.Sub
}
