package mtls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehousehq/gatehouse/internal/authn"
)

// testCA issues certificates for tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key}
}

type leafOpts struct {
	cn      string
	uri     string
	expired bool
	server  bool
}

func (ca *testCA) issue(t *testing.T, o leafOpts) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: o.cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if o.expired {
		tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour)
	}
	if o.server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	if o.uri != "" {
		u, err := url.Parse(o.uri)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = []*url.URL{u}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// server starts an HTTPS server with ServerTLSConfig that reports the
// principal its Authenticator derives.
func server(t *testing.T, ca *testCA, auth *Authenticator) *httptest.Server {
	t.Helper()
	dir := t.TempDir()
	srvCert := ca.issue(t, leafOpts{cn: "gatehouse", server: true})
	keyDER, err := x509.MarshalPKCS8PrivateKey(srvCert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, caFile := filepath.Join(dir, "srv.pem"), filepath.Join(dir, "srv.key"), filepath.Join(dir, "ca.pem")
	writePEM(t, certFile, "CERTIFICATE", srvCert.Certificate[0])
	writePEM(t, keyFile, "PRIVATE KEY", keyDER)
	writePEM(t, caFile, "CERTIFICATE", ca.cert.Raw)
	cfg, err := ServerTLSConfig(certFile, keyFile, caFile)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := auth.AuthenticateCert(r)
		out := map[string]any{}
		switch {
		case errors.Is(err, authn.ErrInvalidCredentials):
			out["error"] = "invalid"
		case err != nil:
			out["error"] = err.Error()
		case p == nil:
			out["error"] = "none"
		default:
			out["subject"], out["roles"], out["method"], out["cert_identity"] = p.Subject, p.Roles, string(p.Method), p.CertIdentity
		}
		_ = json.NewEncoder(w).Encode(out)
	}))
	srv.TLS = cfg
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func call(t *testing.T, srv *httptest.Server, ca *testCA, client *tls.Certificate) (map[string]any, error) {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	tc := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	if client != nil {
		// Always present the certificate, even when its CA is not among those
		// the server names, so the server's own verification is what is tested.
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return client, nil }
	}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
	resp, err := c.Get(srv.URL)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}

func TestAuthenticateCert_OverRealTLS(t *testing.T) {
	ca, other := newCA(t, "corp CA"), newCA(t, "rogue CA")
	auth, err := New([]Identity{
		{Match: "ops-bot", Roles: []string{"agent"}},
		{Match: "spiffe://corp/ns/ops/sa/bot", Roles: []string{"admin"}},
		{Match: "spiffe://corp/ns/batch/*", Roles: []string{"viewer"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := server(t, ca, auth)
	cert := func(c *testCA, o leafOpts) *tls.Certificate { tc := c.issue(t, o); return &tc }

	tests := []struct {
		name      string
		cert      *tls.Certificate
		want      map[string]any
		handshake bool // the TLS handshake itself must fail
	}{
		{"CN mapped", cert(ca, leafOpts{cn: "ops-bot"}), map[string]any{
			"subject": "ops-bot", "roles": []any{"agent"}, "method": "mtls", "cert_identity": "ops-bot"}, false},
		{"SPIFFE URI SAN wins over CN", cert(ca, leafOpts{cn: "ops-bot", uri: "spiffe://corp/ns/ops/sa/bot"}), map[string]any{
			"subject": "spiffe://corp/ns/ops/sa/bot", "roles": []any{"admin"}, "method": "mtls", "cert_identity": "spiffe://corp/ns/ops/sa/bot"}, false},
		{"SPIFFE prefix match", cert(ca, leafOpts{uri: "spiffe://corp/ns/batch/sa/nightly"}), map[string]any{
			"subject": "spiffe://corp/ns/batch/sa/nightly", "roles": []any{"viewer"}, "method": "mtls", "cert_identity": "spiffe://corp/ns/batch/sa/nightly"}, false},
		{"unmapped identity", cert(ca, leafOpts{cn: "stranger"}), map[string]any{"error": "invalid"}, false},
		{"prefix is not a substring match", cert(ca, leafOpts{uri: "spiffe://corp/ns/batchx/sa/a"}), map[string]any{"error": "invalid"}, false},
		// A subject CN is free text to many CAs; it must not pass for a URI SAN.
		{"CN spelling a SPIFFE ID", cert(ca, leafOpts{cn: "spiffe://corp/ns/ops/sa/bot"}), map[string]any{"error": "invalid"}, false},
		{"CN spelling a SPIFFE prefix", cert(ca, leafOpts{cn: "spiffe://corp/ns/batch/sa/x"}), map[string]any{"error": "invalid"}, false},
		{"no client certificate", nil, map[string]any{"error": "none"}, false},
		{"untrusted CA", cert(other, leafOpts{cn: "ops-bot"}), nil, true},
		{"expired", cert(ca, leafOpts{cn: "ops-bot", expired: true}), nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := call(t, srv, ca, tt.cert)
			if tt.handshake {
				if err == nil {
					t.Fatalf("request succeeded with %v; want the handshake refused", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestAuthenticateCert_IgnoresUnverifiedCertificates(t *testing.T) {
	ca := newCA(t, "corp CA")
	leaf := ca.issue(t, leafOpts{cn: "ops-bot"})
	cert, err := x509.ParseCertificate(leaf.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	auth, err := New([]Identity{{Match: "ops-bot", Roles: []string{"agent"}}})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}
	if p, err := auth.AuthenticateCert(r); p != nil || err != nil {
		t.Errorf("unverified peer certificate gave %v, %v", p, err)
	}
}

func TestNew_RejectsBadIdentities(t *testing.T) {
	for _, ids := range [][]Identity{
		{{Match: ""}},
		{{Match: "/*"}},
		{{Match: "spiffe://corp/*/bot"}},
		{{Match: "a"}, {Match: "a"}},
	} {
		if _, err := New(ids); err == nil {
			t.Errorf("New(%v) succeeded", ids)
		}
	}
}

func TestServerTLSConfig_Errors(t *testing.T) {
	dir := t.TempDir()
	if _, err := ServerTLSConfig(filepath.Join(dir, "missing.pem"), filepath.Join(dir, "missing.key"), ""); err == nil {
		t.Error("missing certificate accepted")
	}
	ca := newCA(t, "corp CA")
	srvCert := ca.issue(t, leafOpts{cn: "gatehouse", server: true})
	keyDER, _ := x509.MarshalPKCS8PrivateKey(srvCert.PrivateKey)
	certFile, keyFile, badCA := filepath.Join(dir, "c.pem"), filepath.Join(dir, "c.key"), filepath.Join(dir, "ca.pem")
	writePEM(t, certFile, "CERTIFICATE", srvCert.Certificate[0])
	writePEM(t, keyFile, "PRIVATE KEY", keyDER)
	if err := os.WriteFile(badCA, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ServerTLSConfig(certFile, keyFile, badCA); err == nil {
		t.Error("CA file without certificates accepted")
	}
	cfg, err := ServerTLSConfig(certFile, keyFile, "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClientAuth != tls.NoClientCert || cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("without CA: ClientAuth=%v MinVersion=%x", cfg.ClientAuth, cfg.MinVersion)
	}
}
