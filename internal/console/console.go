// Package console serves the web console at /console/: static files
// embedded in the binary (plain ES modules, no build step) under their own
// Content-Security-Policy, and the one document they need from the server,
// config.json (how to sign in). The console calls the same API as every
// other client, with the signed-in user's bearer token.
package console

import (
	"embed"
	"encoding/json"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// Prefix is where the console is served.
const Prefix = "/console/"

//go:embed files
var embedded embed.FS

// Files are the console's files, rooted at the console's directory.
func Files() fs.FS {
	sub, err := fs.Sub(embedded, "files")
	if err != nil {
		panic(err) // the directory is embedded: it is there
	}
	return sub
}

// OIDC is the console's OpenID Connect sign-in; the zero value: API keys
// and pasted tokens only.
type OIDC struct {
	Issuer   string   `json:"issuer"`
	ClientID string   `json:"client_id"`
	Scopes   []string `json:"scopes"`
}

// Config is what config.json tells the browser.
type Config struct {
	// OIDC is nil when sign-in by OIDC is not configured.
	OIDC *OIDC `json:"oidc"`
}

// Handler serves the console. oidc returns the OIDC sign-in of the config
// serving r (it changes with a reload).
func Handler(oidc func(r *http.Request) OIDC) http.Handler {
	files := Files()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o := oidc(r)
		w.Header().Set("Content-Security-Policy", CSP(o.Issuer))
		name := strings.TrimPrefix(r.URL.Path, Prefix)
		if name == "" {
			name = "index.html"
		}
		if name == "config.json" {
			writeConfig(w, o)
			return
		}
		if !fs.ValidPath(name) || strings.HasPrefix(path.Base(name), ".") {
			http.NotFound(w, r)
			return
		}
		b, err := fs.ReadFile(files, name)
		if err != nil {
			// A path the app routes itself (#/chat is a fragment, but a
			// reload of /console/anything still gets the app).
			if path.Ext(name) != "" {
				http.NotFound(w, r)
				return
			}
			name = "index.html"
			b, _ = fs.ReadFile(files, name)
		}
		ct := mime.TypeByExtension(path.Ext(name))
		if ct == "" {
			ct = "application/octet-stream"
		}
		w.Header().Set("Content-Type", ct)
		_, _ = w.Write(b)
	})
}

func writeConfig(w http.ResponseWriter, o OIDC) {
	var c Config
	if o.Issuer != "" {
		if o.Scopes == nil {
			o.Scopes = []string{}
		}
		c.OIDC = &o
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(c)
}

// CSP is the console's Content-Security-Policy: its own scripts and styles
// only (no inline script or style), no frames, no plugins, and network
// access to this origin — plus, when OIDC sign-in is configured, the
// issuer's origin, for discovery and the token exchange a public client
// makes itself.
func CSP(issuer string) string {
	connect := "'self'"
	if u, err := url.Parse(issuer); err == nil && issuer != "" && u.Host != "" {
		connect += " " + u.Scheme + "://" + u.Host
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; " +
		"connect-src " + connect + "; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
}
