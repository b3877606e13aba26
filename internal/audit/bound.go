package audit

import (
	"strconv"
	"unicode/utf8"
)

// Bounds on what one stored event can carry. Many fields come from the
// caller or the model (a path, a token's subject, a tool's error text), and
// the log is fail-closed: were they unbounded, a few callers could fill the
// disk and stop everyone's requests. Record cuts every field to its bound
// before the event is hashed, so the stored event is the cut one.
const (
	// MaxFieldBytes bounds each text field (subject, issuer, rule, reason,
	// resource, model, ids, ...) and each role and content key.
	MaxFieldBytes = 1024
	// MaxContentBytes bounds each content value as stored: hmac values are
	// far shorter; with audit.content full a longer message is cut.
	MaxContentBytes = 64 << 10
	// MaxRoles bounds the roles (and the scopes) listed; a longer list ends with one entry
	// saying how many were left out.
	MaxRoles = 64
)

// Cut returns s when it holds at most max bytes, else its start (whole
// UTF-8 sequences only) followed by "…(cut, N bytes)", N being len(s), in at
// most max bytes in all. Valid UTF-8 stays valid.
func Cut(s string, max int) string {
	if len(s) <= max {
		return s
	}
	mark := "…(cut, " + strconv.Itoa(len(s)) + " bytes)"
	n := max - len(mark)
	if n < 0 { // no room for the marker
		n, mark = max, ""
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + mark
}

// boundList cuts a list of names (roles, scopes) in place to MaxRoles
// entries of MaxFieldBytes each, saying how many were left out.
func boundList(l []string, what string) []string {
	if n := len(l); n > MaxRoles {
		l = append(l[:MaxRoles:MaxRoles], "…(cut, "+strconv.Itoa(n)+" "+what+")")
	}
	for i, r := range l[:min(len(l), MaxRoles)] {
		l[i] = Cut(r, MaxFieldBytes)
	}
	return l
}

// bound returns e with every field cut to its bound. Content is cut after
// the content mode transformed it, so an HMAC covers the whole value. It
// cuts e's roles, scopes and content in place: they must be e's own (prepare's
// normalized copy), not the caller's.
func bound(e Event) Event {
	for _, f := range []*string{
		&e.RequestID, &e.RunID, &e.SessionID, &e.Type, &e.Subject, &e.AuthMethod,
		&e.Issuer, &e.Decision, &e.Rule, &e.Reason, &e.Resource, &e.Outcome, &e.Model,
	} {
		*f = Cut(*f, MaxFieldBytes)
	}
	e.Roles = boundList(e.Roles, "roles")
	e.Scopes = boundList(e.Scopes, "scopes")
	var longKeys []string
	for k, v := range e.Content {
		if len(k) > MaxFieldBytes {
			longKeys = append(longKeys, k) // re-keyed below: no inserts while ranging
			continue
		}
		e.Content[k] = Cut(v, MaxContentBytes)
	}
	for _, k := range longKeys {
		v := e.Content[k]
		delete(e.Content, k)
		e.Content[Cut(k, MaxFieldBytes)] = Cut(v, MaxContentBytes)
	}
	return e
}
