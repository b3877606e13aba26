package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/authn"
	"github.com/gatehousehq/gatehouse/internal/authz"
)

type memSink struct{ events []audit.Event }

func (m *memSink) Record(_ context.Context, evs ...audit.Event) error {
	m.events = append(m.events, evs...)
	return nil
}

type downSink struct{}

func (downSink) Record(context.Context, ...audit.Event) error { return audit.ErrUnavailable }

func testServer(t *testing.T, sink audit.Sink) (*Server, string) {
	key, digest, _ := authn.NewKey()
	d, _ := authn.ParseDigest(digest)
	rt := &Runtime{
		Authn:              &authn.Chain{Verifiers: []authn.TokenVerifier{authn.NewAPIKeys([]authn.APIKey{{Digest: d, Subject: "ops", Roles: []string{"op"}}})}},
		Perms:              authz.NewPermissions(map[string][]string{"op": {"read"}}, nil),
		InvalidTokenStatus: 403, MaxBodyBytes: 1 << 10, RequestTimeout: 5 * time.Second,
	}
	return New(Deps{Audit: sink}, rt), key
}

// testRoute is a route a test adds behind a permission, the way Handler
// protects its own.
type testRoute struct {
	pattern, perm string
	h             http.Handler
}

// withRoutes serves routes through s's authentication, permission and base
// middleware, as Handler serves the API's.
func withRoutes(s *Server, routes ...testRoute) http.Handler {
	mux := http.NewServeMux()
	for _, r := range routes {
		mux.Handle(r.pattern, s.protect(r.perm, r.h))
	}
	return s.base(mux)
}

func get(t *testing.T, h http.Handler, path, key string) (*http.Response, map[string]any, string) {
	req := httptest.NewRequest("GET", path, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	return serve(h, req)
}

func serve(h http.Handler, req *http.Request) (*http.Response, map[string]any, string) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	raw, _ := io.ReadAll(rec.Result().Body)
	var body map[string]any
	json.Unmarshal(raw, &body)
	return rec.Result(), body, string(raw)
}

func TestServer_PanicBecomes500WithoutInternals(t *testing.T) {
	s, key := testServer(t, &memSink{})
	h := withRoutes(s, testRoute{"GET /boom", "read", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("database password is hunter2")
	})})
	resp, body, raw := get(t, h, "/boom", key)
	if resp.StatusCode != 500 || body["error"] != "internal" || strings.Contains(raw, "hunter2") || resp.Header.Get("X-Request-Id") == "" {
		t.Fatalf("%d %s", resp.StatusCode, raw)
	}
}

func TestServer_AuditDownFailsClosedBeforeTheHandler(t *testing.T) {
	s, key := testServer(t, downSink{})
	ran := false
	h := withRoutes(s, testRoute{"GET /x", "read", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran = true })})
	resp, body, _ := get(t, h, "/x", key)
	if resp.StatusCode != 503 || body["error"] != "audit_unavailable" || resp.Header.Get("Retry-After") == "" || ran {
		t.Fatalf("%d %v ran=%v", resp.StatusCode, body, ran)
	}
}

func TestServer_DecisionIsRecordedWithTheRule(t *testing.T) {
	sink := &memSink{}
	s, key := testServer(t, sink)
	h := withRoutes(s,
		testRoute{"GET /x", "read", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) })},
		testRoute{"GET /y", "admin", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) })})
	if resp, _, _ := get(t, h, "/x", key); resp.StatusCode != 204 {
		t.Fatalf("x: %d", resp.StatusCode)
	}
	if resp, _, _ := get(t, h, "/y", key); resp.StatusCode != 403 {
		t.Fatalf("y: %d", resp.StatusCode)
	}
	if len(sink.events) != 2 || sink.events[0].Decision != "allow" || sink.events[0].Rule != "role:op grants read" ||
		sink.events[1].Decision != "deny" || sink.events[1].Rule != "default deny" || sink.events[1].Subject != "ops" {
		t.Fatalf("events %+v", sink.events)
	}
	for _, e := range sink.events {
		if strings.Contains(e.Reason+e.Rule+e.Resource, key) {
			t.Fatal("the key reached an event")
		}
	}
}
