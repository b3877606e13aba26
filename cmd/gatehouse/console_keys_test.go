package main

import (
	"context"
	"testing"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
)

// In the chat box, as in chat apps: Shift+Enter makes a new line, an Enter
// that confirms an IME composition sends nothing, and Enter sends the
// message, new lines and all.
func TestConsole_EnterSendsAndShiftEnterMakesANewLine(t *testing.T) {
	g := startGateway(t, gwOptions{script: consoleScript})
	b := openTab(t, newBrowser(t))
	key := g.keys["agent"]
	b.signIn(g.base, key)
	b.waitFor("the agents", `!!document.querySelector('#agent option[value="support_agent"]')`)
	box := chromedp.CSS(`textarea[name="message"]`)
	sent := func() int { return evalIn[int](b, `document.querySelectorAll('.msg-user').length`) }

	b.do(chromedp.Focus(box),
		chromedp.KeyEvent("first line"),
		pressEnter(chromedp.ModifierShift),
		chromedp.KeyEvent("second line"))
	if v := evalIn[string](b, `document.querySelector('textarea[name="message"]').value`); v != "first line\nsecond line" {
		t.Errorf("after Shift+Enter the box holds %q; want two lines", v)
	}
	if n := sent(); n != 0 {
		t.Fatalf("Shift+Enter sent %d messages", n)
	}

	// An IME's confirming Enter: isComposing, or keyCode 229 where a
	// browser does not set it. The submit is synchronous, so a message
	// sent would be in the log at once.
	for _, init := range []string{`{key: 'Enter', isComposing: true}`, `{key: 'Enter', keyCode: 229}`} {
		evalIn[bool](b, `document.querySelector('textarea[name="message"]').dispatchEvent(new KeyboardEvent('keydown', {...`+init+`, bubbles: true, cancelable: true}))`)
		if n := sent(); n != 0 {
			t.Fatalf("an Enter during composition %s sent the message", init)
		}
	}

	b.do(pressEnter(chromedp.ModifierNone))
	b.waitFor("the message sent", `document.querySelectorAll('.msg-user').length === 1`)
	if got := evalIn[string](b, `document.querySelector('.msg-user .text').textContent`); got != "first line\nsecond line" {
		t.Errorf("sent %q; want the two lines", got)
	}
	if v := evalIn[string](b, `document.querySelector('textarea[name="message"]').value`); v != "" {
		t.Errorf("after sending the box holds %q", v)
	}
	b.waitFor("the answer", runDone+`[...document.querySelectorAll('.msg-assistant .text')].some(e => e.textContent.includes('scripted model'))`)

	// Enter in an empty box sends nothing and adds no line.
	b.do(chromedp.Focus(box), pressEnter(chromedp.ModifierNone))
	if n, v := sent(), evalIn[string](b, `document.querySelector('textarea[name="message"]').value`); n != 1 || v != "" {
		t.Errorf("Enter in an empty box: %d messages, box %q; want 1 and empty", n, v)
	}
	b.screenshots("chat-multiline")
	b.checkClean(key, g.base)
}

// pressEnter presses Enter as a keyboard does, and as Puppeteer sends it:
// one keyDown that carries the text "\r", then keyUp, so a keydown
// listener that prevents the default also stops the new line. (chromedp's
// KeyEvent sends the text in a separate char event, which a keydown
// listener cannot cancel.)
func pressEnter(m chromedp.Modifier) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		key := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyDown, Modifiers: int64(m),
			Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13, Text: "\r", UnmodifiedText: "\r"}
		if _, err := chromedp.Call(ctx, input.DispatchKeyEvent, key); err != nil {
			return err
		}
		key.Type, key.Text, key.UnmodifiedText = input.DispatchKeyEventTypeKeyUp, "", ""
		_, err := chromedp.Call(ctx, input.DispatchKeyEvent, key)
		return err
	})
}
