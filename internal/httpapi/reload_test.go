package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/authn"
	"github.com/gatehousehq/gatehouse/internal/authz"
	"github.com/gatehousehq/gatehouse/internal/principal"
)

// gateVerifier accepts any token once released, as a JWT verifier with a
// slow key fetch would; it fails like one whose refresher was closed.
type gateVerifier struct {
	entered chan struct{}
	release chan struct{}
	closed  *atomic.Bool
}

func (g gateVerifier) VerifyToken(ctx context.Context, _ string) (*principal.Principal, error) {
	close(g.entered)
	<-g.release
	if g.closed.Load() {
		return nil, errors.New("keys unavailable: verifier closed")
	}
	return &principal.Principal{Subject: "ops", Method: principal.MethodAPIKey, Roles: []string{"op"}}, nil
}

func TestReload_OldRuntimeIsClosedOnlyAfterItsLastRequest(t *testing.T) {
	var closed atomic.Bool
	g := gateVerifier{entered: make(chan struct{}), release: make(chan struct{}), closed: &closed}
	old := &Runtime{
		Authn: &authn.Chain{Verifiers: []authn.TokenVerifier{g}},
		Perms: authz.NewPermissions(map[string][]string{"op": {"read"}}, nil), InvalidTokenStatus: 403,
		MaxBodyBytes: 1 << 10, RequestTimeout: 5 * time.Second,
		Close: func() { closed.Store(true) },
	}
	next := &Runtime{
		Authn: &authn.Chain{}, Perms: authz.NewPermissions(nil, nil), InvalidTokenStatus: 403,
		MaxBodyBytes: 1 << 10, RequestTimeout: 5 * time.Second,
	}
	s := New(Deps{Audit: &memSink{}, Reload: func(context.Context) (*Runtime, error) { return next, nil }}, old)
	s.HandleProtected("GET /x", "read", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }))
	h := s.Handler()

	var wg sync.WaitGroup
	rec := httptest.NewRecorder()
	wg.Add(1)
	go func() {
		defer wg.Done()
		req := httptest.NewRequest("GET", "/x", nil)
		req.Header.Set("Authorization", "Bearer tok")
		h.ServeHTTP(rec, req)
	}()
	<-g.entered
	if _, err := s.Reload(context.Background(), func(error) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if closed.Load() {
		t.Fatal("the old runtime was closed while a request was still using it")
	}
	close(g.release)
	wg.Wait()
	if rec.Code != 204 {
		t.Fatalf("the request that started before the reload got %d: %s", rec.Code, rec.Body)
	}
	if !closed.Load() {
		t.Fatal("the old runtime was not closed after its last request")
	}
	if s.Runtime() != next {
		t.Fatal("new requests do not use the new runtime")
	}
}

func TestReload_NotAppliedWhenItsEventCannotBeRecorded(t *testing.T) {
	s, key := testServer(t, &memSink{})
	first := s.Runtime()
	var nextClosed bool
	s.Deps.Reload = func(context.Context) (*Runtime, error) {
		return &Runtime{Authn: &authn.Chain{}, Perms: authz.NewPermissions(nil, nil), Close: func() { nextClosed = true }}, nil
	}
	v, err := s.Reload(context.Background(), func(error) error { return audit.ErrUnavailable })
	if !errors.Is(err, audit.ErrUnavailable) || v != 1 || s.Runtime() != first || !nextClosed {
		t.Fatalf("err=%v version=%d swapped=%v next closed=%v", err, v, s.Runtime() != first, nextClosed)
	}

	// Through the endpoint: 503, and the old config keeps serving.
	s.Audit = &memSink{}
	first.Perms = authz.NewPermissions(map[string][]string{"op": {"admin"}}, nil)
	down := &recordFails{sink: s.Audit.(*memSink), failType: audit.TypeConfigReloaded}
	s.Audit = down
	resp, body, _ := post(t, s.Handler(), "/admin/reload", key)
	if resp.StatusCode != 503 || body["error"] != "audit_unavailable" || s.Runtime() != first || s.Version() != 1 {
		t.Fatalf("%d %v swapped=%v version=%d", resp.StatusCode, body, s.Runtime() != first, s.Version())
	}
}

// recordFails records everything but events of failType.
type recordFails struct {
	sink     *memSink
	failType string
}

func (r *recordFails) Record(ctx context.Context, evs ...audit.Event) error {
	for _, e := range evs {
		if e.Type == r.failType {
			return audit.ErrUnavailable
		}
	}
	return r.sink.Record(ctx, evs...)
}

func post(t *testing.T, h http.Handler, path, key string) (*http.Response, map[string]any, string) {
	t.Helper()
	req := httptest.NewRequest("POST", path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	return serve(h, req)
}
