package main

import (
	"bufio"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// postRaw sends body as is to /v1/chat as the agent user.
func postRaw(g *gateway, body string) response {
	g.t.Helper()
	req, _ := http.NewRequest("POST", g.base+"/v1/chat", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+g.keys["agent"])
	return g.send(req)
}

// encoding/json turns invalid UTF-8 and lone surrogate escapes into U+FFFD
// and would run the result: what a proxy in front reads would differ from
// what runs. Such a request is refused, in any field.
func TestChat_InvalidUnicodeIsRefused(t *testing.T) {
	g := startGateway(t, gwOptions{})
	cases := []struct{ name, body string }{
		{"invalid UTF-8 in message", "{\"message\":\"hi \xff there\"}"},
		{"UTF-8 encoded surrogate in message", "{\"message\":\"hi \xed\xa0\x80\"}"},
		{"lone high surrogate in message", `{"message":"hi \ud800"}`},
		{"lone low surrogate in message", `{"message":"hi \udc00 there"}`},
		{"high surrogate then a letter", `{"message":"hi \ud83d\u0041"}`},
		{"lone surrogate in session_id", `{"message":"hi","session_id":"ses_\ud800"}`},
		{"lone surrogate in agent", `{"message":"hi","agent":"support_agent\udfff"}`},
		{"invalid UTF-8 in agent", "{\"message\":\"hi\",\"agent\":\"\xc3\"}"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := postRaw(g, c.body)
			if r.status != 400 || r.str("error") != "invalid_request" {
				t.Fatalf("got %d %s", r.status, r.raw)
			}
		})
	}
	if n := g.upstream.Count(); n != 0 {
		t.Fatalf("the model was called %d times for invalid Unicode", n)
	}
	// A surrogate pair is one valid character, and runs.
	if r := postRaw(g, `{"message":"hi \ud83d\ude00"}`); r.status != 200 {
		t.Fatalf("escaped surrogate pair: %d %s", r.status, r.raw)
	}
	if msgs := g.upstream.Requests()[0].Messages; !strings.Contains(msgs[len(msgs)-1].Text(), "hi 😀") {
		t.Errorf("the model got %q", msgs[len(msgs)-1].Text())
	}
}

// An error quotes at most a short prefix of what the caller sent.
func TestErrors_QuoteAtMostAShortPrefixOfTheInput(t *testing.T) {
	g := startGateway(t, gwOptions{})
	long := strings.Repeat("x", 100_000)
	cases := []struct {
		name     string
		do       func() response
		status   int
		code     string
		maxInput int // how much of the input the detail may quote
	}{
		{"unknown agent", func() response { return postRaw(g, `{"message":"hi","agent":"`+long+`"}`) }, 404, "unknown_agent", 64},
		{"unknown field", func() response { return postRaw(g, `{"message":"hi","`+long+`":"v"}`) }, 400, "invalid_request", 64},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := c.do()
			if r.status != c.status || r.str("error") != c.code {
				t.Fatalf("got %d %.300s", r.status, r.raw)
			}
			if d := r.str("detail"); len(d) > 512+3 || strings.Count(d, "x") > c.maxInput || !strings.Contains(d, "xxxx") {
				t.Errorf("detail is %d bytes: %.300s", len(d), d)
			}
		})
	}
}

// A session id is checked by its shape before any lookup or record: a
// malformed one, of any size, is 400 and becomes neither a session.denied
// event nor a long log line.
func TestSessions_MalformedIDIsRefusedBeforeAnyRecord(t *testing.T) {
	g := startGateway(t, gwOptions{})
	huge := strings.Repeat("a", 900_000)
	cases := []struct {
		name string
		do   func() response
	}{
		{"/v1/chat, huge session_id", func() response { return postRaw(g, `{"message":"hi","session_id":"`+huge+`"}`) }},
		{"/v1/chat, session_id of another shape", func() response { return postRaw(g, `{"message":"hi","session_id":"ses_XYZ"}`) }},
		{"/v1/chat, id in upper case", func() response {
			return postRaw(g, `{"message":"hi","session_id":"ses_`+strings.Repeat("A", 32)+`"}`)
		}},
		{"GET /v1/sessions, long id", func() response {
			return g.do("GET", "/v1/sessions/ses_"+strings.Repeat("a", 60_000), "agent", nil)
		}},
		{"GET /v1/sessions, escaped id", func() response {
			return g.do("GET", "/v1/sessions/"+url.PathEscape("ses_00000000000000000000000000000000\n"), "agent", nil)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := c.do()
			if r.status != 400 || r.str("error") != "invalid_request" {
				t.Fatalf("got %d %.300s", r.status, r.raw)
			}
		})
	}
	if n := g.upstream.Count(); n != 0 {
		t.Errorf("the model was called %d times", n)
	}
	denied := g.do("GET", "/admin/audit?type=session.denied", "admin", nil)
	if evs, _ := denied.body["events"].([]any); denied.status != 200 || len(evs) != 0 {
		t.Errorf("session.denied events: %d %.300s", denied.status, denied.raw)
	}
	all := g.do("GET", "/admin/audit?limit=1000", "admin", nil)
	if all.status != 200 || len(all.raw) > 64<<10 {
		t.Errorf("the audit log holds %d bytes of events after %d requests", len(all.raw), len(cases))
	}
	sc := bufio.NewScanner(strings.NewReader(g.stderr.String()))
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		if len(sc.Text()) > 4<<10 {
			t.Errorf("a log line of %d bytes: %.200s", len(sc.Text()), sc.Text())
		}
	}
}
