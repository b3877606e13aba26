package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/gatehousehq/gatehouse/internal/console"
)

// The approvals inbox speaks SPEC "Human approval" as written: it lists
// GET /v1/approvals and decides with POST /v1/approvals/{id} {"decision",
// "args_sha256", "comment"}, the hash being the pending call's. Until the
// approval API is served by gatehouse, a stand-in serves that contract
// beside the real console files; the end-to-end test of a supervisor
// approving a live run needs the real one.
func TestConsole_ApprovalsInboxSendsTheDecisionBoundToTheArguments(t *testing.T) {
	const token = "inbox-test-token"
	const hash = "5f2b0c7f7fd3b6d1b5a2bb1e2b0d7e1c7e9d40d1b4b5e4bfe1f7a0c2d3e4f5a6"
	var mu sync.Mutex
	var decided map[string]any
	mux := http.NewServeMux()
	mux.Handle("GET /console/", console.Handler(func(*http.Request) console.OIDC { return console.OIDC{} }))
	authed := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer "+token {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			h(w, r)
		}
	}
	mux.HandleFunc("GET /console/api/me", authed(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"subject":"sup","method":"api_key","roles":["supervisor"],"permissions":["read","respond"]}`))
	}))
	mux.HandleFunc("GET /v1/models", authed(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"object":"list","data":[{"id":"support_agent","object":"model"}]}`))
	}))
	mux.HandleFunc("GET /v1/approvals", authed(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if decided != nil {
			_, _ = w.Write([]byte(`{"approvals":[]}`))
			return
		}
		_, _ = w.Write([]byte(`{"approvals":[{"id":"apr_1","tool":"policy_update","run_id":"run_1",
			"arguments":"{\"policy_id\":\"POL-500\",\"field\":\"status\",\"value\":\"<b>suspended</b>\"}",
			"args_sha256":"` + hash + `","requested_by":{"subject":"handler","method":"api_key"},"expires_at":"2030-01-01T00:00:00Z"}]}`))
	}))
	mux.HandleFunc("POST /v1/approvals/{id}", authed(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if err := json.NewDecoder(r.Body).Decode(&decided); err != nil || r.PathValue("id") != "apr_1" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		_, _ = w.Write([]byte(`{"id":"apr_1","status":"approved"}`))
	}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	b := openTab(t, newBrowser(t))
	b.signIn(srv.URL, token)
	b.do(chromedp.Click(chromedp.CSS(`#nav a[data-page="approvals"]`)), chromedp.WaitVisible(chromedp.CSS(`li.approval`)))
	card := b.text(`li.approval`)
	for _, want := range []string{"policy_update", "apr_1", "handler · api_key", `"policy_id": "POL-500"`, `"value": "<b>suspended</b>"`, hash} {
		if !strings.Contains(card, want) {
			t.Errorf("card %q lacks %q", card, want)
		}
	}
	if n := evalIn[int](b, `document.querySelectorAll('li.approval b').length`); n != 0 {
		t.Error("argument markup became elements")
	}
	b.screenshots("approvals-pending")
	b.do(chromedp.SendKeys(chromedp.CSS(`li.approval textarea[name="comment"]`), "checked with the customer"),
		chromedp.Click(chromedp.CSS(`li.approval button.approve`)),
		chromedp.WaitVisible(chromedp.CSS(`li.approval p.done`)))
	mu.Lock()
	got := decided
	mu.Unlock()
	if got["decision"] != "approve" || got["args_sha256"] != hash || got["comment"] != "checked with the customer" || len(got) != 3 {
		t.Errorf("decision sent: %v", got)
	}
	b.waitFor("the empty inbox", `document.querySelector('section [role=status]').textContent.includes('Nothing waits')`)
	b.checkClean(token, srv.URL)
}
