package audit_test

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gatehousehq/gatehouse/internal/audit"
)

func TestCut(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want string
	}{
		{"short", "abc", 10, "abc"},
		{"exact", "abcdefghij", 10, "abcdefghij"},
		{"long", strings.Repeat("a", 100), 30, "aaaaaaaaaaa…(cut, 100 bytes)"},
		{"no room for the marker", strings.Repeat("a", 100), 5, "aaaaa"},
		{"never splits a rune", strings.Repeat("é", 50), 30, "ééééé…(cut, 100 bytes)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := audit.Cut(tc.in, tc.max)
			if got != tc.want || len(got) > tc.max || !utf8.ValidString(got) {
				t.Errorf("Cut = %q (%d bytes); want %q, at most %d bytes", got, len(got), tc.want, tc.max)
			}
		})
	}
}

// Whatever callers put in an event, what is stored (and hashed) holds every
// field within its bound, and still verifies.
func TestRecord_CutsEveryFieldToItsBound(t *testing.T) {
	for _, mode := range []audit.ContentMode{audit.ContentFull, audit.ContentHMAC} {
		t.Run(string(mode), func(t *testing.T) {
			st := openStore(t)
			l := newLog(t, audit.Config{Store: st, ContentMode: mode, HMACKey: []byte("0123456789abcdef")})
			huge := strings.Repeat("x", 3*audit.MaxContentBytes)
			bad := strings.Repeat("\xff", audit.MaxFieldBytes) // grows as it becomes U+FFFD
			roles := make([]string, 3*audit.MaxRoles)
			for i := range roles {
				roles[i] = huge
			}
			e := audit.Event{
				Type: audit.TypeAuthzDecided, RequestID: huge, RunID: huge, SessionID: huge, Subject: huge,
				AuthMethod: huge, Issuer: bad, Roles: roles, Decision: huge, Rule: huge, Reason: huge,
				Resource: huge, Outcome: huge, Model: huge, Content: map[string]string{"message": huge, huge: "v"},
			}
			if err := l.Record(context.Background(), e); err != nil {
				t.Fatal(err)
			}
			// The log cuts its own copies; the caller's event stays whole.
			if len(e.Roles) != 3*audit.MaxRoles || e.Roles[0] != huge || e.Content["message"] != huge || e.Content[huge] != "v" {
				t.Errorf("the caller's roles or content changed")
			}
			got := mustVerify(t, st, audit.VerifyOptions{})
			if got.Events != 1 {
				t.Fatalf("verify: %+v", got)
			}
			page, err := audit.List(context.Background(), st, audit.Query{})
			if err != nil || len(page.Events) != 1 {
				t.Fatalf("list: %v %v", page, err)
			}
			s := page.Events[0]
			for name, v := range map[string]string{"request_id": s.RequestID, "run_id": s.RunID, "session_id": s.SessionID,
				"subject": s.Subject, "auth_method": s.AuthMethod, "issuer": s.Issuer, "decision": s.Decision, "rule": s.Rule,
				"reason": s.Reason, "resource": s.Resource, "outcome": s.Outcome, "model": s.Model} {
				if len(v) > audit.MaxFieldBytes || !strings.Contains(v, "(cut, ") {
					t.Errorf("%s: %d bytes, %q…", name, len(v), v[:min(len(v), 40)])
				}
			}
			if len(s.Roles) != audit.MaxRoles+1 || !strings.Contains(s.Roles[audit.MaxRoles], "192 roles") {
				t.Errorf("%d roles, last %q", len(s.Roles), s.Roles[len(s.Roles)-1])
			}
			for _, r := range s.Roles {
				if len(r) > audit.MaxFieldBytes {
					t.Errorf("a role of %d bytes", len(r))
				}
			}
			for k, v := range s.Content {
				if len(k) > audit.MaxFieldBytes || len(v) > audit.MaxContentBytes {
					t.Errorf("content %d-byte key with a %d-byte value", len(k), len(v))
				}
			}
			if mode == audit.ContentHMAC && s.Content["message"] != audit.HashValue([]byte("0123456789abcdef"), huge) {
				t.Errorf("hmac of the message is not over the whole value: %q", s.Content["message"])
			}
		})
	}
}
