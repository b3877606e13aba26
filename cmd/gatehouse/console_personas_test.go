package main

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"
)

// consolePages are the console's pages in menu order, each with what shows
// it has loaded: its heading is there and its first request has answered.
var consolePages = []struct{ name, loaded string }{
	{"chat", `!!document.querySelector('#chat-title') && !!document.querySelector('#agent option')`},
	{"approvals", `!!document.querySelector('#approvals-title') && document.querySelector('section [role=status]').textContent !== ''`},
	{"audit", `!!document.querySelector('#audit-title') && document.querySelector('.pager [role=status]').textContent.startsWith('Page ')`},
	{"policy", `!!document.querySelector('#policy-title') && !!document.querySelector('#matrix td')`},
}

// Each person of `serve --dev` is shown the pages their roles grant and no
// other; a page they may not use is not reached by its address either.
// Using every page shown (a chat, then each page, then the chat again,
// which loads the session's history) leaves no error in the browser
// console and no request refused or failed.
func TestConsole_EachDevPersonaSeesOnlyItsPagesAndNoRequestFails(t *testing.T) {
	g := startDev(t)
	browser := newBrowser(t)
	for _, c := range []struct {
		persona string
		pages   []string
	}{
		{"viewer", []string{"approvals"}},                           // read
		{"agent", []string{"chat", "approvals"}},                    // read, respond
		{"admin", []string{"chat", "approvals", "audit", "policy"}}, // all
		{"customer", []string{"chat"}},                              // respond, no read
		{"supervisor", []string{"approvals"}},                       // read
	} {
		t.Run(c.persona, func(t *testing.T) {
			key := g.keys[c.persona]
			if key == "" {
				t.Fatalf("dev-credentials.env has no key for %s", c.persona)
			}
			b := openTab(t, browser)
			b.signInTo(g.base, key)
			shown := evalIn[[]string](b, `[...document.querySelectorAll('#nav a')].filter(a => !a.hidden).map(a => a.dataset.page)`)
			if diff := cmp.Diff(c.pages, shown); diff != "" {
				t.Errorf("pages in the menu (-want +got):\n%s", diff)
			}
			first := c.pages[0]
			if cur := evalIn[string](b, `location.hash`); cur != "#/"+first {
				t.Errorf("after sign-in the console shows %s; want #/%s", cur, first)
			}
			b.visitHidden(c.pages)
			for _, p := range c.pages {
				b.visitPage(p, c.persona)
			}
			if c.pages[0] == "chat" {
				b.do(chromedp.Click(chromedp.CSS(`#nav a[data-page="chat"]`)))
				b.waitFor("the chat again", consolePages[0].loaded)
				b.waitFor("the session's history or the note that it is not shown",
					`document.querySelectorAll('.msg-user').length === 1 || document.querySelector('.chat .status-line').textContent.includes('do not grant read')`)
			}
			b.checkClean(key, g.base)
		})
	}
}

// visitPage opens page from the menu, waits until it has loaded, and
// leaves its screenshots; on the chat it asks about a claim.
func (b *tab) visitPage(page, persona string) {
	b.t.Helper()
	b.do(chromedp.Click(chromedp.CSS(`#nav a[data-page="` + page + `"]`)))
	for _, p := range consolePages {
		if p.name == page {
			b.waitFor(page, p.loaded)
		}
	}
	if page == "chat" {
		b.send("What is the status of claim CLM-1001?")
		b.waitFor("the answer", runDone+`[...document.querySelectorAll('.msg-assistant .text')].some(e => e.textContent.includes('offline demo model'))`)
	}
	b.screenshots("persona-" + persona + "-" + page)
}

// visitHidden asks for each page not in shown by its address: the console
// shows the first page the caller may use instead (or the note that there
// is none), without calling the hidden page's API.
func (b *tab) visitHidden(shown []string) {
	b.t.Helper()
	for _, p := range consolePages {
		if slices.Contains(shown, p.name) {
			continue
		}
		first := "none" // the note that no page is allowed
		if len(shown) > 0 {
			first = shown[0]
		}
		evalIn[string](b, `location.hash = '#/`+p.name+`'`)
		b.waitFor("the first page instead of "+p.name, `location.hash === '#/`+strings.TrimPrefix(first, "none")+`'`)
		if got := evalIn[string](b, `document.querySelector('main h1').id`); got != first+"-title" {
			b.t.Errorf("#/%s shows the page %q; want %s", p.name, got, first)
		}
		if cur := evalIn[string](b, `[...document.querySelectorAll('#nav a[aria-current]')].map(a => a.dataset.page).join()`); cur != strings.TrimPrefix(first, "none") {
			b.t.Errorf("#/%s marks %q as the current page; want %s", p.name, cur, first)
		}
	}
}

// A signed-in caller whose roles grant none of the pages' permissions (a
// dev token for a role the config does not know) sees no page and a note
// saying why, and the console asks the API nothing it would refuse.
func TestConsole_CallerWithoutPermissionsSeesNoPage(t *testing.T) {
	g := startDev(t)
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"token", "--data-dir", g.dir, "--subject", "stranger", "--roles", "stranger"},
		func(string) string { return "" }, nil, &out, &errOut); err != nil {
		t.Fatalf("token: %v\n%s", err, errOut.String())
	}
	tok := strings.TrimSpace(out.String())
	b := openTab(t, newBrowser(t))
	b.signInTo(g.base, tok)
	if n := evalIn[int](b, `[...document.querySelectorAll('#nav a')].filter(a => !a.hidden).length`); n != 0 {
		t.Errorf("%d pages in the menu; want none", n)
	}
	if h := b.text("main h1"); h != "Nothing to show" {
		t.Errorf("the page says %q", h)
	}
	b.visitHidden(nil)
	b.screenshots("persona-none")
	b.checkClean(tok, g.base)
}
