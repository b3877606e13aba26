package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/gatehousehq/gatehouse/internal/llm/llmtest"
	"github.com/gatehousehq/gatehouse/internal/oidctest"
)

// markupAnswer is a model answer that would run script if the console put
// it into the page as HTML.
const markupAnswer = `Here you go: <img src=x onerror="window.__pwned='img'"> and <script>window.__pwned='script'</script> done.`

// consoleScript is the model behind the console tests: it looks up a
// claim, looks up a customer's payments, answers with markup, or sums up
// the tool results it was given.
func consoleScript(_ int, req *llmtest.Request) llmtest.Reply {
	last := req.Last()
	if last.Role == "tool" {
		if strings.Contains(last.Text(), "not_authorized") {
			return llmtest.Reply{Content: "I may not look that up for you."}
		}
		return llmtest.Reply{Content: "Claim CLM-1001 is being processed."}
	}
	text := last.Text()
	switch {
	case strings.Contains(text, "CLM-1001"):
		return llmtest.Reply{ToolCalls: []llmtest.ToolCall{llmtest.Call("call_claim", "claims_status", `{"claim_id":"CLM-1001"}`)}}
	case strings.Contains(text, "C-200"):
		return llmtest.Reply{ToolCalls: []llmtest.ToolCall{llmtest.Call("call_pay", "payments_lookup", `{"customer_id":"C-200"}`)}}
	case strings.Contains(text, "markup"):
		return llmtest.Reply{Chunks: []string{"Here you go: <img src=x ", `onerror="window.__pwned='img'"> and <script>`, "window.__pwned='script'</script> done."}}
	}
	return llmtest.Reply{Content: "Hello from the scripted model."}
}

// runDone is true once no answer is still streaming.
const runDone = `document.querySelectorAll('.msg-assistant[aria-busy]').length === 0 && `

// A customer signs in with a key, sees an allowed tool call with its rule,
// a call the condition refuses shown as denied, and model markup shown as
// text with nothing run; the history survives a reload; nothing leaks.
func TestConsole_ChatShowsEachToolDecisionAndModelMarkupAsText(t *testing.T) {
	g := startGateway(t, gwOptions{script: consoleScript})
	b := openTab(t, newBrowser(t))
	key := g.keys["customer"]

	b.do(chromedp.Navigate(g.base + "/console/"))
	b.text(`#signin-title`)
	b.screenshots("signin")
	b.signIn(g.base, key)
	if who := b.text("#who"); !strings.Contains(who, "customer") {
		t.Errorf("header shows %q; want the customer", who)
	}
	// The customer has no read, no audit.read and no admin: only the chat
	// is in the menu.
	if n := evalIn[int](b, `[...document.querySelectorAll('#nav a')].filter(a => !a.hidden).length`); n != 1 {
		t.Errorf("%d pages in the menu; want 1 (chat)", n)
	}
	b.waitFor("the agents", `!!document.querySelector('#agent option[value="support_agent"]')`)

	b.send("What is the status of claim CLM-1001?")
	b.do(chromedp.WaitVisible(chromedp.CSS(`.toolcall[data-tool="claims_status"][data-decision="allow"]`)))
	b.waitFor("the answer", runDone+`[...document.querySelectorAll('.msg-assistant .text')].some(e => e.textContent.includes('being processed'))`)
	card := b.text(`.toolcall[data-tool="claims_status"]`)
	for _, want := range []string{"allowed", "role:customer grants claims.read", "status: ok"} {
		if !strings.Contains(card, want) {
			t.Errorf("allowed call shows %q; want %q in it", card, want)
		}
	}

	b.send("Show the payments of customer C-200")
	b.do(chromedp.WaitVisible(chromedp.CSS(`.toolcall[data-tool="payments_lookup"][data-decision="deny"]`)))
	b.waitFor("the refusal's answer", runDone+`[...document.querySelectorAll('.msg-assistant .text')].some(e => e.textContent.includes('may not look'))`)
	denied := b.text(`.toolcall[data-tool="payments_lookup"]`)
	for _, want := range []string{"denied", "condition of payments_lookup", "does not allow this call", "status: denied"} {
		if !strings.Contains(denied, want) {
			t.Errorf("denied call shows %q; want %q in it", denied, want)
		}
	}
	b.screenshots("chat")
	// Dark mode follows the system.
	if _, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}}); err != nil {
		t.Fatal(err)
	}
	if bg := evalIn[string](b, `getComputedStyle(document.body).backgroundColor`); bg != "rgb(21, 23, 27)" {
		t.Errorf("dark mode background %s", bg)
	}
	b.screenshots("chat-dark")
	if _, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{}); err != nil {
		t.Fatal(err)
	}

	b.send("Answer with some markup")
	b.waitFor("the markup answer", runDone+`[...document.querySelectorAll('.msg-assistant .text')].some(e => e.textContent.includes('done.'))`)
	got := evalIn[string](b, `[...document.querySelectorAll('.msg-assistant .text')].map(e => e.textContent).find(t => t.includes('done.'))`)
	if got != markupAnswer {
		t.Errorf("answer shown as %q; want the text %q", got, markupAnswer)
	}
	if n := evalIn[int](b, `document.querySelectorAll('main img, main script').length`); n != 0 {
		t.Errorf("the answer made %d img/script elements", n)
	}
	if p := evalIn[string](b, `String(window.__pwned)`); p != "undefined" {
		t.Errorf("the model's markup ran: window.__pwned = %s", p)
	}

	// The customer's roles do not grant read: after a reload the session
	// goes on, without its earlier messages (GET /v1/sessions needs read).
	session := b.text("#session-id")
	b.do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`textarea[name="message"]`)))
	b.waitFor("the note", `document.querySelector('.chat .status-line').textContent.includes('do not grant read')`)
	if s := b.text("#session-id"); s != session {
		t.Errorf("session after reload %q; want %q", s, session)
	}
	b.do(chromedp.Click(chromedp.CSS("#new-session")))
	b.waitFor("an empty conversation", `document.querySelectorAll('.msg').length === 0 && document.querySelector('#session-id').textContent === 'new'`)

	if sk := evalIn[string](b, `sessionStorage.getItem('gatehouse.credential')`); sk != key {
		t.Error("the key is not kept in sessionStorage")
	}
	b.checkClean(key, g.base)
	// Sign-out forgets the key.
	b.do(chromedp.Click(chromedp.CSS("#signout")), chromedp.WaitVisible(chromedp.CSS(`input[name="credential"]`)))
	if n := evalIn[int](b, `sessionStorage.length`); n != 0 {
		t.Errorf("sessionStorage holds %d items after sign-out", n)
	}
}

// A key the server stops accepting (removed by a reload) sends the console
// back to sign-in with a message saying so; a wrong key is refused there.
func TestConsole_RevokedKeyLeadsBackToSignIn(t *testing.T) {
	g := startGateway(t, gwOptions{script: consoleScript})
	b := openTab(t, newBrowser(t))

	b.do(chromedp.Navigate(g.base+"/console/"),
		chromedp.WaitVisible(chromedp.CSS(`input[name="credential"]`)),
		// Keyboard only: the key field has the focus, Enter signs in.
		chromedp.SendKeys(chromedp.CSS(`input[name="credential"]`), "not-a-key\r"))
	b.waitFor("the refusal", `document.querySelector('#signin-error') && !document.querySelector('#signin-error').hidden`)
	if msg := b.text("#signin-error"); !strings.Contains(msg, "not accepted") {
		t.Errorf("wrong key: %q", msg)
	}

	b.signIn(g.base, g.keys["agent"])
	g.writeConfig(g.renderConfig([]string{"viewer", "admin", "customer"}, gwOptions{}))
	if r := g.do("POST", "/admin/reload", "admin", nil); r.status != 200 {
		t.Fatalf("reload: %d %s", r.status, r.raw)
	}
	b.send("hello")
	b.waitFor("the sign-in page", `!!document.querySelector('input[name="credential"]')`)
	if msg := b.text("#signin-error"); !strings.Contains(msg, "no longer accepted") {
		t.Errorf("after the key was revoked the sign-in says %q", msg)
	}
	if n := evalIn[int](b, `sessionStorage.length`); n != 0 {
		t.Errorf("sessionStorage holds %d items after the key was refused", n)
	}
	// The refused call is a 403 the browser logs; that is expected here.
}

// An admin filters the audit log, opens a run's timeline, verifies the
// chain, reads the role × tool matrix and has a decision explained by the
// gate's own evaluator.
func TestConsole_AdminAuditsAndExplainsPolicy(t *testing.T) {
	g := startGateway(t, gwOptions{script: consoleScript})
	b := openTab(t, newBrowser(t))
	key := g.keys["admin"]
	b.signIn(g.base, key)
	b.send("What is the status of claim CLM-1001?")
	b.do(chromedp.WaitVisible(chromedp.CSS(`.toolcall[data-decision="allow"]`)))
	b.waitFor("the answer", runDone+`[...document.querySelectorAll('.msg-assistant .text')].some(e => e.textContent.includes('being processed'))`)

	// The session's history comes back after a reload, tool calls and all.
	b.do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`.msg-user`)))
	b.waitFor("history", `document.querySelectorAll('.msg-user').length === 1 && document.querySelectorAll('.toolcall[data-decision="allow"]').length === 1 && [...document.querySelectorAll('.msg-assistant .text')].some(e => e.textContent.includes('being processed'))`)

	b.do(chromedp.Click(chromedp.CSS(`#nav a[data-page="approvals"]`)))
	b.text("#approvals-title")
	b.waitFor("the inbox", `document.querySelector('section [role=status]').textContent !== ''`)
	b.screenshots("approvals")

	// Audit: filter by type, open the run, verify.
	b.do(chromedp.Click(chromedp.CSS(`#nav a[data-page="audit"]`)), chromedp.WaitVisible(chromedp.CSS(`table.events tbody tr`)))
	b.do(chromedp.SetValue(chromedp.CSS(`select[name="type"]`), "tool.decided"),
		chromedp.Click(chromedp.CSS(`form.filters button[type="submit"]`)))
	b.waitFor("the filtered table", `[...document.querySelectorAll('table.events tbody tr')].length === 1 && document.querySelector('table.events tbody tr').dataset.type === 'tool.decided'`)
	row := b.text(`table.events tbody tr`)
	for _, want := range []string{"tool.decided", "admin", "allow", "tool:claims_status"} {
		if !strings.Contains(row, want) {
			t.Errorf("filtered row %q lacks %q", row, want)
		}
	}
	b.do(chromedp.Click(chromedp.CSS(`#verify`)), chromedp.WaitVisible(chromedp.CSS(`#verify-result`)))
	if v := b.text("#verify-result"); !strings.Contains(v, "Chain intact") {
		t.Errorf("verify shows %q", v)
	}
	b.screenshots("audit")
	b.do(chromedp.Click(chromedp.CSS(`table.events tbody tr a`)), chromedp.WaitVisible(chromedp.CSS(`ol.timeline li`)))
	b.waitFor("the whole run", `document.querySelectorAll('ol.timeline li').length >= 5`)
	types := evalIn[string](b, `[...document.querySelectorAll('ol.timeline li')].map(li => li.dataset.type).join(' ')`)
	if types != "authz.decided run.started tool.decided tool.finished run.finished" {
		t.Errorf("timeline %q; want the request's decision, the run's start, the tool's decision and result, the answer", types)
	}
	b.screenshots("audit-timeline")

	// Export downloads the filtered events.
	// The page's own first load writes the same status line: let it end
	// first, or under load it can overwrite the export's.
	b.do(chromedp.Click(chromedp.CSS(`#nav a[data-page="audit"]`)), chromedp.WaitVisible(chromedp.CSS(`#export`)))
	b.waitFor("the page's first load", `document.querySelector('.pager [role=status]').textContent.startsWith('Page ')`)
	b.do(chromedp.Click(chromedp.CSS(`#export`)))
	b.waitFor("the export", `document.querySelector('.pager [role=status]').textContent.startsWith('Exported ')`)

	// Policy: the matrix and an explain.
	b.do(chromedp.Click(chromedp.CSS(`#nav a[data-page="policy"]`)), chromedp.WaitVisible(chromedp.CSS(`#matrix td`)))
	cell := func(role, tool string) string {
		return evalIn[string](b, `(() => { const t = document.querySelector('#matrix');
			const col = [...t.tHead.rows[0].cells].findIndex(c => c.textContent === '`+tool+`');
			const row = [...t.tBodies[0].rows].find(r => r.cells[0].textContent === '`+role+`');
			return row.cells[col].dataset.standing + ' | ' + row.cells[col].title; })()`)
	}
	for _, c := range []struct{ role, tool, want string }{
		{"agent", "claims_status", "allowed | role:agent grants claims.read"},
		{"viewer", "claims_status", "denied | default deny"},
		{"customer", "payments_lookup", "conditional | role:customer grants payments.read\ncondition: args.customer_id == principal.claims.customer_id || \"admin\" in principal.roles"},
	} {
		if got := cell(c.role, c.tool); got != c.want {
			t.Errorf("matrix %s × %s = %q; want %q", c.role, c.tool, got, c.want)
		}
	}
	b.do(chromedp.SendKeys(chromedp.CSS(`input[name="roles"]`), "customer"),
		chromedp.SetValue(chromedp.CSS(`textarea[name="claims"]`), `{"customer_id": "C-100"}`),
		chromedp.SetValue(chromedp.CSS(`select[name="tool"]`), "payments_lookup"),
		chromedp.SetValue(chromedp.CSS(`textarea[name="arguments"]`), `{"customer_id": "C-200"}`),
		chromedp.Click(chromedp.CSS(`form.explain button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#explain-result .decision`)))
	ex := b.text("#explain-result")
	for _, want := range []string{"denied", "condition of payments_lookup", "the tool's condition does not allow this call"} {
		if !strings.Contains(ex, want) {
			t.Errorf("explain shows %q; want %q in it", ex, want)
		}
	}
	// The same caller and their own customer: allowed, by the same rule.
	b.do(chromedp.SetValue(chromedp.CSS(`textarea[name="arguments"]`), `{"customer_id": "C-100"}`),
		chromedp.Click(chromedp.CSS(`form.explain button[type="submit"]`)))
	b.waitFor("the allowed explanation", `document.querySelector('#explain-result .decision-allow') !== null`)
	// Arguments the tool's strict decoder refuses are refused here too.
	b.do(chromedp.SetValue(chromedp.CSS(`textarea[name="arguments"]`), `{"customer_id": "C-100", "extra": 1}`),
		chromedp.Click(chromedp.CSS(`form.explain button[type="submit"]`)))
	b.waitFor("the decoder's refusal", `document.querySelector('#explain-result .decision-deny') !== null && document.querySelector('#explain-result').textContent.includes('invalid_arguments')`)
	// Before reloading: the file on disk takes claims.read from the admin,
	// which flips the admin's claim look-up recorded above.
	g.writeConfig(strings.Replace(mustRead(t, g.cfgPath), "admin: [read, respond, admin, audit.read, metrics, claims.read,", "admin: [read, respond, admin, audit.read, metrics,", 1))
	b.do(chromedp.Click(chromedp.CSS(`#dry-run`)), chromedp.WaitVisible(chromedp.CSS(`#dryrun-result .replay-summary`)))
	dr := b.text("#dryrun-result")
	for _, want := range []string{"admin × claims_status: allowed → denied", "claims_status, roles [admin]: allow → deny: 1", "now tool not offered"} {
		if !strings.Contains(dr, want) {
			t.Errorf("dry run shows %q; want %q in it", dr, want)
		}
	}
	b.screenshots("policy")
	b.checkClean(key, g.base)
}

// "Sign in with <issuer>": authorization code with PKCE against the real
// oidc-provider of the interop tests; the access token it issues is the
// bearer the console sends, verified by gatehouse like any JWT.
func TestConsole_OIDCSignInWithTheRealProvider(t *testing.T) {
	p := oidctest.Start(t)
	g := startGateway(t, gwOptions{script: consoleScript, config: func(g *gateway) string {
		return g.withIdentity(identityYAML{auth: fmt.Sprintf("  jwt:\n    issuers:\n      - {issuer: %q, audiences: [gatehouse], algorithms: [RS256], required_typ: at+jwt}\n", p.Issuer)}) +
			fmt.Sprintf("console:\n  oidc: {issuer: %q, client_id: %s, scopes: [read, write]}\n", p.Issuer, oidctest.ConsoleClientID)
	}})
	p.AllowConsole(t, g.base+"/console/")
	b := openTab(t, newBrowser(t))

	b.do(chromedp.Navigate(g.base+"/console/"), chromedp.WaitVisible(chromedp.CSS(`#oidc-signin`)))
	if label := b.text("#oidc-signin"); label != "Sign in with "+p.Issuer {
		t.Errorf("button %q", label)
	}
	b.do(chromedp.Click(chromedp.CSS(`#oidc-signin`)), chromedp.WaitVisible(chromedp.CSS(`textarea[name="message"]`)))
	if who := b.text("#who"); !strings.Contains(who, "console-user (agent)") {
		t.Errorf("signed in as %q; want console-user with role agent", who)
	}
	if href := evalIn[string](b, `location.href`); href != g.base+"/console/#/chat" {
		t.Errorf("address after sign-in %q: the code and state must leave it", href)
	}
	tok := evalIn[string](b, `sessionStorage.getItem('gatehouse.credential')`)
	if strings.Count(tok, ".") != 2 {
		t.Fatalf("the stored credential is not a JWT access token")
	}
	b.send("What is the status of claim CLM-1001?")
	b.do(chromedp.WaitVisible(chromedp.CSS(`.toolcall[data-tool="claims_status"][data-decision="allow"]`)))
	b.waitFor("the answer", runDone+`[...document.querySelectorAll('.msg-assistant .text')].some(e => e.textContent.includes('being processed'))`)
	if ev := g.lastDecision(testClient, "console-user"); ev.AuthMethod != "jwt" || ev.Issuer != p.Issuer {
		t.Errorf("the chat was authorized as %+v; want the provider's JWT", ev)
	}
	// The console talked to gatehouse and to the provider, nothing else.
	b.checkClean(tok, g.base, p.Issuer)

	// A sign-in response this tab did not start is refused.
	b.do(chromedp.Click(chromedp.CSS("#signout")), chromedp.WaitVisible(chromedp.CSS(`#oidc-signin`)))
	b.do(chromedp.Navigate(g.base+"/console/?code=forged&state=forged"), chromedp.WaitVisible(chromedp.CSS(`#signin-error`)))
	if msg := b.text("#signin-error"); !strings.Contains(msg, "state mismatch") {
		t.Errorf("forged callback: %q", msg)
	}
}
