package console

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// maxBytes is the console's budget, uncompressed.
const maxBytes = 300 << 10

func TestFiles_AreSmallAndNeedNoInlineScriptOrStyle(t *testing.T) {
	total := 0
	// What would need 'unsafe-inline' or put text in as markup.
	forbidden := map[string]*regexp.Regexp{
		".html": regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>[^<]|<style|\sstyle=|\son[a-z]+=|javascript:`),
		".js":   regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|setAttribute\('style'|\.style\.|https?://`),
		".css":  regexp.MustCompile(`@import|url\(`),
	}
	err := fs.WalkDir(Files(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(Files(), path)
		if err != nil {
			return err
		}
		total += len(b)
		for ext, re := range forbidden {
			if strings.HasSuffix(path, ext) {
				if m := re.Find(b); m != nil {
					t.Errorf("%s: %q", path, m)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if total > maxBytes {
		t.Errorf("the console is %d bytes; the budget is %d", total, maxBytes)
	}
}

func TestHandler_ServesTheAppUnderItsOwnPolicy(t *testing.T) {
	h := Handler(func(*http.Request) OIDC { return OIDC{Issuer: "https://idp.example.test/realm", ClientID: "console"} })
	for _, tc := range []struct {
		path, status, ctype string
	}{
		{"/console/", "200", "text/html"},
		{"/console/app.js", "200", "text/javascript"},
		{"/console/style.css", "200", "text/css"},
		{"/console/chat", "200", "text/html"}, // a reload of an app path
		{"/console/missing.js", "404", ""},
		{"/console/../go.mod", "404", ""},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
		if got := http.StatusText(rec.Code); rec.Code != map[string]int{"200": 200, "404": 404}[tc.status] {
			t.Errorf("%s: %s", tc.path, got)
		}
		if !strings.HasPrefix(rec.Header().Get("Content-Type"), tc.ctype) {
			t.Errorf("%s: Content-Type %q", tc.path, rec.Header().Get("Content-Type"))
		}
		csp := rec.Header().Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self';", "style-src 'self';", "frame-ancestors 'none'",
			"connect-src 'self' https://idp.example.test;"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", tc.path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") {
			t.Errorf("%s: CSP %q", tc.path, csp)
		}
	}
}

func TestConfig_NamesTheProviderOnlyWhenConfigured(t *testing.T) {
	for _, tc := range []struct {
		oidc OIDC
		want string
	}{
		{OIDC{}, `{"oidc":null}`},
		{OIDC{Issuer: "https://idp.example.test", ClientID: "console"}, `{"oidc":{"issuer":"https://idp.example.test","client_id":"console","scopes":[]}}`},
	} {
		rec := httptest.NewRecorder()
		Handler(func(*http.Request) OIDC { return tc.oidc }).ServeHTTP(rec, httptest.NewRequest("GET", "/console/config.json", nil))
		if got := strings.TrimSpace(rec.Body.String()); got != tc.want {
			t.Errorf("config.json = %s; want %s", got, tc.want)
		}
		if csp := rec.Header().Get("Content-Security-Policy"); tc.oidc.Issuer == "" && !strings.Contains(csp, "connect-src 'self';") {
			t.Errorf("without OIDC the console may connect elsewhere: %q", csp)
		}
	}
}
