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

	"github.com/google/go-cmp/cmp"

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
	h := withRoutes(s, testRoute{"GET /x", "read", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) })})

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
	if _, err := s.Reload(context.Background(), audit.Event{Subject: "test"}); err != nil {
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
	s.Audit = downSink{}
	v, err := s.Reload(context.Background(), audit.Event{Subject: "test"})
	if !errors.Is(err, ErrReloadNotRecorded) || !errors.Is(err, audit.ErrUnavailable) || v != 1 || s.Runtime() != first || !nextClosed {
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

// TestReload_OneRecordForEveryAsker: the endpoint and a signal (app's
// SIGHUP) record a reload alike, through recordReload; only who asked
// differs.
func TestReload_OneRecordForEveryAsker(t *testing.T) {
	sink := &memSink{}
	s, key := testServer(t, sink)
	s.Runtime().Perms = authz.NewPermissions(map[string][]string{"op": {"admin"}}, nil)
	next := s.Runtime()
	s.Deps.Reload = func(context.Context) (*Runtime, error) { return next, nil }
	if resp, _, raw := post(t, s.Handler(), "/admin/reload", key); resp.StatusCode != 200 {
		t.Fatalf("endpoint: %d %s", resp.StatusCode, raw)
	}
	if _, err := s.Reload(context.Background(), audit.Event{Subject: "signal:SIGHUP"}); err != nil {
		t.Fatal(err)
	}
	s.Deps.Reload = func(context.Context) (*Runtime, error) { return nil, errors.New("tools.x: bad") }
	if _, err := s.Reload(context.Background(), audit.Event{Subject: "signal:SIGHUP"}); err == nil {
		t.Fatal("a refused reload succeeded")
	}
	var got []audit.Event
	for _, e := range sink.events {
		if e.Type == audit.TypeConfigReloaded {
			got = append(got, e)
		}
	}
	if len(got) != 3 {
		t.Fatalf("reload events: %+v", got)
	}
	byEndpoint, bySignal, refused := got[0], got[1], got[2]
	if byEndpoint.Subject != "ops" || byEndpoint.RequestID == "" || bySignal.Subject != "signal:SIGHUP" {
		t.Errorf("askers: endpoint %+v, signal %+v", byEndpoint, bySignal)
	}
	// Apart from who asked, the two records are one shape.
	asked := func(e audit.Event) audit.Event {
		return audit.Event{Type: e.Type, Resource: e.Resource, Outcome: e.Outcome, Reason: e.Reason}
	}
	if diff := cmp.Diff(asked(byEndpoint), asked(bySignal)); diff != "" {
		t.Errorf("endpoint and signal record differently (-endpoint +signal):\n%s", diff)
	}
	want := audit.Event{Type: audit.TypeConfigReloaded, Resource: "config", Outcome: "refused", Reason: "tools.x: bad"}
	if diff := cmp.Diff(want, asked(refused)); diff != "" {
		t.Errorf("refused reload (-want +got):\n%s", diff)
	}
}
