package condition

import (
	"context"
	"testing"

	"github.com/gatehousehq/gatehouse/internal/principal"
)

func TestPathWithin_TrapsCannotEscape(t *testing.T) {
	const dir = "/srv/docs"
	tests := []struct {
		path string
		want bool
	}{
		{"/srv/docs", true},
		{"/srv/docs/", true},
		{"/srv/docs/a/b.txt", true},
		{"/srv/docs/./a.txt", true},
		{"/srv//docs//a.txt", true},
		{"/srv/docs/a/../b.txt", true},
		{"/../srv/docs/a.txt", true}, // ".." at the root is the root
		{"/srv/docs/..", false},
		{"/srv/docs/../etc/passwd", false},
		{"/srv/docs/a/../../etc/passwd", false},
		{"/srv/docs/../docs-private/x", false},
		{"/srv/docs-private/x", false}, // a sibling sharing the prefix
		{"/srv/docs-private", false},
		{"/srv/docsx", false},
		{"/srv", false},
		{"/", false},
		{"srv/docs/a.txt", false},   // relative
		{"./srv/docs/a.txt", false}, // relative
		{"", false},
		{"/srv/docs/a.txt\x00/../../etc/passwd", false}, // NUL
		{"/srv/docs\x00", false},
	}
	for _, tt := range tests {
		if got := PathWithin(tt.path, dir); got != tt.want {
			t.Errorf("PathWithin(%q, %q) = %v, want %v", tt.path, dir, got, tt.want)
		}
	}
	// The directory is cleaned too: a trailing slash or a dot changes nothing.
	for _, d := range []string{"/srv/docs/", "/srv/./docs", "/srv//docs"} {
		if !PathWithin("/srv/docs/a", d) || PathWithin("/srv/docs-private/a", d) {
			t.Errorf("dir %q: not cleaned before comparing", d)
		}
	}
	if PathWithin("/srv/docs/a", "srv/docs") || PathWithin("/srv/docs/a", "/srv/docs\x00") {
		t.Error("a relative or NUL-holding dir must contain nothing")
	}
}

func TestURLHost_ParsesLikeAClient(t *testing.T) {
	tests := []struct{ url, want string }{
		{"https://api.example.com/v1", "api.example.com"},
		{"https://API.Example.com:8443/v1", "api.example.com"},
		{"https://api.example.com./", "api.example.com"},
		{"https://api.example.com@evil.test/", "evil.test"},
		{"https://user:pw@api.example.com/", "api.example.com"},
		{"https://api.example.com.evil.test/", "api.example.com.evil.test"},
		{"http://[::1]:80/", "::1"},
		{"ftp://api.example.com/", ""},
		{"//api.example.com/", ""},
		{"api.example.com", ""},
		{"https://api.example.com\\@evil.test/", ""},
		{"https://api.example.com\x00.evil.test/", ""},
		{"javascript:alert(1)", ""},
	}
	for _, tt := range tests {
		if got := URLHost(tt.url); got != tt.want {
			t.Errorf("URLHost(%q) = %q, want %q", tt.url, got, tt.want)
		}
	}
}

func TestHelpers_InConditions(t *testing.T) {
	p := &principal.Principal{Subject: "agent", Roles: []string{"agent"}}
	tests := []struct {
		expr string
		args map[string]any
		want bool
	}{
		{`path_within(args.path, "/srv/docs")`, map[string]any{"path": "/srv/docs/a.txt"}, true},
		{`path_within(args.path, "/srv/docs")`, map[string]any{"path": "/srv/docs/../secret"}, false},
		{`path_within(args.path, "/srv/docs")`, map[string]any{"path": "/srv/docs-private/a"}, false},
		{`url_host(args.url) == "api.example.com"`, map[string]any{"url": "https://api.example.com@evil.test/"}, false},
		{`url_host(args.url) == "api.example.com"`, map[string]any{"url": "https://api.example.com/x"}, true},
		{`sha256(args.v) == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"`, map[string]any{"v": "hello"}, true},
		{`sha256(args.v) == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"`, map[string]any{"v": "hellO"}, false},
	}
	for _, tt := range tests {
		c, err := Compile(tt.expr)
		if err != nil {
			t.Fatalf("Compile(%q): %v", tt.expr, err)
		}
		got, err := c.Eval(context.Background(), p, ToolInfo{Name: "t"}, tt.args)
		if err != nil {
			t.Fatalf("Eval(%q, %v): %v", tt.expr, tt.args, err)
		}
		if got != tt.want {
			t.Errorf("Eval(%q, %v) = %v, want %v", tt.expr, tt.args, got, tt.want)
		}
	}
	// A non-string argument is a deny with an error, never an allow.
	c, err := Compile(`path_within(args.path, "/srv/docs")`)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := c.Eval(context.Background(), p, ToolInfo{Name: "t"}, map[string]any{"path": int64(3)}); ok || err == nil {
		t.Errorf("path_within over an integer = %v, %v; want false and an error", ok, err)
	}
}
