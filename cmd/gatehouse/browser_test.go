package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// The console's browser tests drive Debian's chromium (apt-get install
// chromium; .ci/run installs it) headless through chromedp. Without it they
// fail: the console is only tested in a real browser.

// screenshotDir is where the tests leave a picture of each console page at
// 1280×800 and 390×844 (docs/console.md names it).
const screenshotDir = "../../test/screenshots"

func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no chromium on PATH: the console's browser tests need it (apt-get install -y chromium)")
	return ""
}

// newBrowser starts a headless chromium for one test; tabs are opened in it
// with openTab.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox, // CI runs as root
		chromedp.Flag("disable-gpu", true),
		chromedp.WindowSize(1280, 800),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// tab is one browser tab, in its own browser context (its own storage,
// like another person's browser), recording what the console must not do.
type tab struct {
	t   *testing.T
	ctx context.Context
	mu  sync.Mutex
	// requests are the URLs the page asked for; problems are console
	// errors and warnings, uncaught exceptions, browser log errors and
	// requests answered 4xx/5xx or failed (a cancelled one is not).
	requests []string
	problems []string
	urls     map[network.RequestID]string // by request id, for a failed load
}

func openTab(t *testing.T, browser context.Context) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	b := &tab{t: t, ctx: ctx, urls: map[network.RequestID]string{}}
	if err := chromedp.Listen(ctx, b.observe); err != nil {
		t.Fatal(err)
	}
	b.do(chromedp.EmulateViewport(1280, 800))
	return b
}

func (b *tab) observe(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		b.requests = append(b.requests, ev.Request.URL)
		b.urls[ev.RequestID] = ev.Request.URL
	case *network.EventResponseReceived:
		if r := ev.Response; r.Status >= 400 {
			b.problems = append(b.problems, fmt.Sprintf("request failed: %d (%s) %s", r.Status, r.StatusText, r.URL))
		}
	case *network.EventLoadingFailed:
		if !ev.Canceled {
			b.problems = append(b.problems, fmt.Sprintf("request failed: %s %s", ev.ErrorText, b.urls[ev.RequestID]))
		}
	case *runtime.EventConsoleAPICalled:
		if ev.Type == "error" || ev.Type == "warning" || ev.Type == "assert" {
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			b.problems = append(b.problems, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		b.problems = append(b.problems, "exception: "+msg)
	case *log.EventEntryAdded:
		if ev.Entry.Level == "error" || ev.Entry.Level == "warning" {
			b.problems = append(b.problems, fmt.Sprintf("log %s (%s): %s %s", ev.Entry.Level, ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
		}
	}
}

// do runs actions, failing the test on the first error.
func (b *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("browser: %v\npage text:\n%s\nproblems: %v", err, b.pageText(), b.Problems())
	}
}

// pageText is the visible text of the page, for failure messages.
func (b *tab) pageText() string {
	ctx, cancel := context.WithTimeout(b.ctx, 3*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ''`))
	return s
}

func (b *tab) text(css string) string {
	b.t.Helper()
	b.do(chromedp.WaitVisible(chromedp.CSS(css)))
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(css)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", css, err)
	}
	return s
}

func evalIn[T any](b *tab, js string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// waitFor polls a JavaScript condition until it holds.
func (b *tab) waitFor(what, js string) {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if evalIn[bool](b, js) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.t.Fatalf("timed out waiting for %s\npage text:\n%s\nproblems: %v", what, b.pageText(), b.Problems())
}

// signIn pastes key into the sign-in form and waits for the chat.
func (b *tab) signIn(base, key string) {
	b.t.Helper()
	b.signInTo(base, key)
	b.do(chromedp.WaitVisible(chromedp.CSS(`textarea[name="message"]`)))
}

// signInTo pastes key into the sign-in form and waits for the menu and
// the first page the caller may use.
func (b *tab) signInTo(base, key string) {
	b.t.Helper()
	b.do(chromedp.Navigate(base+"/console/"),
		chromedp.WaitVisible(chromedp.CSS(`input[name="credential"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="credential"]`), key),
		chromedp.Click(chromedp.CSS(`form.signin button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#signout`)),
		chromedp.WaitVisible(chromedp.CSS(`main h1`)),
	)
}

// send types a chat message and sends it.
func (b *tab) send(msg string) {
	b.t.Helper()
	b.do(chromedp.WaitEnabled(chromedp.CSS(`.composer button[type="submit"]`)),
		chromedp.SendKeys(chromedp.CSS(`textarea[name="message"]`), msg),
		chromedp.Click(chromedp.CSS(`.composer button[type="submit"]`)))
}

func (b *tab) Problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.problems...)
}

// screenshots writes the page at 1280×800 and at 390×844, after checking
// that every control on it has a label and every button a name.
func (b *tab) screenshots(name string) {
	b.t.Helper()
	if bad := evalIn[[]string](b, `[...document.querySelectorAll('input, select, textarea, button')]
		.filter(e => e.tagName === 'BUTTON' ? !e.textContent.trim() && !e.getAttribute('aria-label') : !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
		.map(e => e.outerHTML.slice(0, 80))`); len(bad) != 0 {
		b.t.Errorf("%s: controls without a label: %q", name, bad)
	}
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	for _, size := range []struct{ w, h int64 }{{1280, 800}, {390, 844}} {
		b.do(chromedp.EmulateViewport(size.w, size.h))
		time.Sleep(150 * time.Millisecond) // layout settles
		ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		cancel()
		if err != nil {
			b.t.Fatalf("screenshot %s: %v", name, err)
		}
		path := filepath.Join(screenshotDir, fmt.Sprintf("%s-%dx%d.png", name, size.w, size.h))
		if err := os.WriteFile(path, png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
	b.do(chromedp.EmulateViewport(1280, 800))
}

// checkClean fails the test if the page logged an error, had a request
// refused or failed, asked another origin than allowed for anything, or put
// secret in a URL, a cookie or localStorage (sessionStorage is where it
// belongs).
func (b *tab) checkClean(secret string, origins ...string) {
	b.t.Helper()
	for _, p := range b.Problems() {
		b.t.Errorf("browser problem: %s", p)
	}
	b.mu.Lock()
	reqs := append([]string(nil), b.requests...)
	b.mu.Unlock()
	if len(reqs) == 0 {
		b.t.Error("no requests were observed")
	}
	for _, u := range reqs {
		ok := strings.HasPrefix(u, "blob:") || strings.HasPrefix(u, "data:")
		for _, o := range origins {
			ok = ok || strings.HasPrefix(u, o+"/")
		}
		if !ok {
			b.t.Errorf("request to another origin: %s", u)
		}
		if secret != "" && strings.Contains(u, secret) {
			b.t.Errorf("the credential is in a URL: %s", u)
		}
	}
	if secret == "" {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: origins})
	if err != nil {
		b.t.Fatal(err)
	}
	// With the console alone there is no cookie at all. An identity
	// provider keeps its own session in cookies, and on loopback those are
	// shared by every port of 127.0.0.1: there, no cookie may hold the
	// credential.
	for _, c := range cookies.Cookies {
		if strings.Contains(c.Value, secret) {
			b.t.Errorf("the credential is in cookie %s of %s", c.Name, c.Domain)
		}
		if len(origins) == 1 {
			b.t.Errorf("the console set a cookie: %s", c.Name)
		}
	}
	if ls := evalIn[string](b, `JSON.stringify(Object.entries(localStorage))`); ls != "[]" {
		b.t.Errorf("localStorage is not empty: %d bytes", len(ls))
	}
	if !strings.Contains(evalIn[string](b, `location.href`), "/console/") || strings.Contains(evalIn[string](b, `location.href`), secret) {
		b.t.Errorf("unexpected address: %s", evalIn[string](b, `location.href`))
	}
}
