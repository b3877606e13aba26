package httptool

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehousehq/gatehouse/internal/principal"
	"github.com/gatehousehq/gatehouse/internal/tools"
)

const secret = "s3cr3t-crm-token"

const customerParams = `{"type":"object","properties":{
	"customer_id":{"type":"string"},"limit":{"type":"integer"},"status":{"type":"string"},"tags":{"type":"array","items":{"type":"string"}}},
	"required":["customer_id","limit"]}`

// seen is what the backend received.
type seen struct {
	Method, EscapedPath, RawQuery, Subject, Auth, ContentType, Body string
}

type backend struct {
	*httptest.Server
	mu    sync.Mutex
	calls []seen
}

func newBackend(t *testing.T, h http.HandlerFunc) *backend {
	t.Helper()
	b := &backend{}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.calls = append(b.calls, seen{
			Method: r.Method, EscapedPath: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery,
			Subject: r.Header.Get(SubjectHeader), Auth: r.Header.Get("Authorization"),
			ContentType: r.Header.Get("Content-Type"), Body: string(body),
		})
		b.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *backend) seen() []seen {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]seen(nil), b.calls...)
}

func callerCtx() context.Context {
	return principal.With(context.Background(), &principal.Principal{Subject: "customer", Roles: []string{"customer"}})
}

// newTool builds a tool whose Authorization header comes from the
// environment, as config loading would expand it.
func newTool(t *testing.T, cfg Config) *Tool {
	t.Helper()
	t.Setenv("CRM_TOKEN", secret)
	if cfg.Headers == nil {
		cfg.Headers = map[string]string{"Authorization": "Bearer " + os.Getenv("CRM_TOKEN")}
	}
	if cfg.Name == "" {
		cfg.Name = "crm_lookup"
	}
	if cfg.Parameters == nil {
		cfg.Parameters = json.RawMessage(customerParams)
	}
	tool, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return tool
}

func TestCall_FillsTemplateAndSendsSubjectAndSecretHeader(t *testing.T) {
	b := newBackend(t, nil)
	tool := newTool(t, Config{URL: b.URL + "/customers/{customer_id}/payments?limit={limit}"})
	got, err := tool.Call(callerCtx(), tools.Args{"customer_id": "C-100", "limit": int64(5), "status": "open", "tags": []any{"a", "b c"}})
	if err != nil {
		t.Fatalf("Call: %v", err)
	}
	if diff := cmp.Diff(json.RawMessage(`{"ok":true}`), got); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	want := []seen{{Method: "GET", EscapedPath: "/customers/C-100/payments", RawQuery: "limit=5&status=open&tags=a&tags=b+c",
		Subject: "customer", Auth: "Bearer " + secret}}
	if diff := cmp.Diff(want, b.seen()); diff != "" {
		t.Errorf("backend saw (-want +got):\n%s", diff)
	}
}

// The same subject verified another way, or by another issuer, is another
// caller: the backend is told how and by whom, not the subject alone.
func TestCall_BackendCanTellCallersWithTheSameSubjectApart(t *testing.T) {
	var mu sync.Mutex
	var got []http.Header
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Clone())
		mu.Unlock()
		_, _ = io.WriteString(w, `{}`)
	})
	tool := newTool(t, Config{URL: b.URL + "/customers/{customer_id}"})
	callers := []*principal.Principal{
		{Subject: "ops-bot", Method: principal.MethodAPIKey},
		{Subject: "ops-bot", Method: principal.MethodJWT, Issuer: "https://partner-idp.example/"},
	}
	for _, p := range callers {
		if _, err := tool.Call(principal.With(context.Background(), p), tools.Args{"customer_id": "C-100"}); err != nil {
			t.Fatal(err)
		}
	}
	want := [][3]string{{"ops-bot", "api_key", ""}, {"ops-bot", "jwt", "https://partner-idp.example/"}}
	for i, h := range got {
		if g := [3]string{h.Get(SubjectHeader), h.Get(AuthMethodHeader), h.Get(IssuerHeader)}; g != want[i] {
			t.Errorf("call %d: backend saw %q; want %q", i, g, want[i])
		}
	}
	if len(got) != 2 {
		t.Fatalf("%d calls", len(got))
	}
}

func TestCall_PostSendsOtherArgumentsAsJSONBody(t *testing.T) {
	b := newBackend(t, nil)
	tool := newTool(t, Config{Method: "post", URL: b.URL + "/customers/{customer_id}/notes"})
	if _, err := tool.Call(callerCtx(), tools.Args{"customer_id": "C-100", "limit": int64(5), "status": "open"}); err != nil {
		t.Fatalf("Call: %v", err)
	}
	want := []seen{{Method: "POST", EscapedPath: "/customers/C-100/notes", Subject: "customer", Auth: "Bearer " + secret,
		ContentType: "application/json", Body: `{"limit":5,"status":"open"}`}}
	if diff := cmp.Diff(want, b.seen()); diff != "" {
		t.Errorf("backend saw (-want +got):\n%s", diff)
	}
}

func TestCall_ArgumentCannotChangeThePath(t *testing.T) {
	tests := []struct {
		arg, wantPath, wantQuery string
	}{
		{"C-100", "/customers/C-100/payments", "q=x"},
		{"a.b_c~d-9", "/customers/a.b_c~d-9/payments", "q=x"},
		{"...", "/customers/.../payments", "q=x"},
	}
	for _, tt := range tests {
		t.Run(tt.arg, func(t *testing.T) {
			b := newBackend(t, nil)
			tool := newTool(t, Config{URL: b.URL + "/customers/{customer_id}/payments?q=x"})
			if _, err := tool.Call(callerCtx(), tools.Args{"customer_id": tt.arg, "limit": int64(1)}); err != nil {
				t.Fatalf("Call: %v", err)
			}
			calls := b.seen()
			if len(calls) != 1 {
				t.Fatalf("backend got %d calls, want 1", len(calls))
			}
			if calls[0].EscapedPath != tt.wantPath || calls[0].RawQuery != tt.wantQuery+"&limit=1" {
				t.Errorf("backend saw path %q query %q, want %q and %q", calls[0].EscapedPath, calls[0].RawQuery, tt.wantPath, tt.wantQuery+"&limit=1")
			}
		})
	}
}

// Values that a decoding backend could read as another path are refused
// before any request: anything outside letters, digits, '-', '.', '_' and
// '~' (slashes, backslashes, percent signs, ';', spaces, look-alikes), and
// dot segments.
func TestCall_RefusesPathArgumentsThatCouldChangeThePath(t *testing.T) {
	for _, arg := range []string{"..", ".", "", "../admin", "C-100/../../admin", "a/b", "%2F", "..%2F..%2Fadmin", `\..\admin`,
		"%2e%2e", "100%", "x?admin=1", "x#frag", "a b", "..;x", "..x;admin", ".. ", "..\t", "．．", "‥", "／admin", "∕", "＼", "é", "C-100\n"} {
		t.Run(arg, func(t *testing.T) {
			b := newBackend(t, nil)
			tool := newTool(t, Config{URL: b.URL + "/customers/{customer_id}/payments"})
			if _, err := tool.Call(callerCtx(), tools.Args{"customer_id": arg, "limit": int64(1)}); err == nil {
				t.Error("Call succeeded")
			}
			if n := len(b.seen()); n != 0 {
				t.Errorf("backend got %d calls, want 0", n)
			}
		})
	}
}

func TestCall_QueryPlaceholderIsEscaped(t *testing.T) {
	b := newBackend(t, nil)
	tool := newTool(t, Config{URL: b.URL + "/search?customer={customer_id}&limit={limit}"})
	if _, err := tool.Call(callerCtx(), tools.Args{"customer_id": "C-1&admin=true#x", "limit": int64(2)}); err != nil {
		t.Fatalf("Call: %v", err)
	}
	if got, want := b.seen()[0].RawQuery, "customer=C-1%26admin%3Dtrue%23x&limit=2"; got != want {
		t.Errorf("backend saw query %q, want %q", got, want)
	}
}

func TestCall_ResultIsRawJSONOrString(t *testing.T) {
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "plain answer")
	})
	tool := newTool(t, Config{URL: b.URL + "/c/{customer_id}"})
	got, err := tool.Call(callerCtx(), tools.Args{"customer_id": "C-1", "limit": int64(1)})
	if err != nil || got != "plain answer" {
		t.Errorf("Call = %#v, %v; want the body as a string", got, err)
	}
}

func TestCall_RefusesWithoutPrincipal(t *testing.T) {
	b := newBackend(t, nil)
	tool := newTool(t, Config{URL: b.URL + "/c/{customer_id}"})
	_, err := tool.Call(context.Background(), tools.Args{"customer_id": "C-1", "limit": int64(1)})
	if !errors.Is(err, ErrNoPrincipal) {
		t.Errorf("Call error = %v, want ErrNoPrincipal", err)
	}
	if n := len(b.seen()); n != 0 {
		t.Errorf("backend got %d calls, want 0", n)
	}
}

func TestCall_FailuresAreToolErrorsWithoutSecrets(t *testing.T) {
	other := newBackend(t, nil)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	tests := []struct {
		name    string
		handler http.HandlerFunc
		url     string
		cfg     Config
		wantMsg string
	}{
		{"server error names the status only", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "internal detail: db password wrong", http.StatusInternalServerError)
		}, "", Config{}, "crm_lookup: upstream returned status 500"},
		{"not found", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, "", Config{},
			"crm_lookup: upstream returned status 404"},
		{"oversized response", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, strings.Repeat("x", 11))
		}, "", Config{MaxResponseBytes: 10}, "crm_lookup: response larger than 10 bytes"},
		{"timeout", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, "", Config{Timeout: 50 * time.Millisecond}, "crm_lookup: timed out after 50ms"},
		{"redirect to another host is not followed", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+"/steal", http.StatusFound)
		}, "", Config{}, "crm_lookup: upstream returned status 302 (redirects are not followed)"},
		{"connection refused", nil, closed.URL + "/c/{customer_id}", Config{}, "crm_lookup: request failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.URL = tt.url
			if cfg.URL == "" {
				cfg.URL = newBackend(t, tt.handler).URL + "/c/{customer_id}"
			}
			tool := newTool(t, cfg)
			got, err := tool.Call(callerCtx(), tools.Args{"customer_id": "C-1", "limit": int64(1)})
			if err == nil {
				t.Fatalf("Call = %v, want error", got)
			}
			if err.Error() != tt.wantMsg {
				t.Errorf("error = %q, want %q", err, tt.wantMsg)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "detail") {
				t.Errorf("error %q leaks a secret or the backend's body", err)
			}
		})
	}
	if n := len(other.seen()); n != 0 {
		t.Errorf("redirect target got %d calls, want 0", n)
	}
}

func TestCall_TimeoutUnwrapsToDeadlineExceeded(t *testing.T) {
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	tool := newTool(t, Config{URL: b.URL + "/c/{customer_id}", Timeout: 20 * time.Millisecond})
	_, err := tool.Call(callerCtx(), tools.Args{"customer_id": "C-1", "limit": int64(1)})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Call error = %v, want DeadlineExceeded", err)
	}
}
