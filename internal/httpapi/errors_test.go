package httpapi

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/chat"
	"github.com/gatehousehq/gatehouse/internal/session"
)

func TestQuoteInput_QuotesAtMostMaxQuotedBytes(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"short", "support", `"support"`},
		{"exactly the bound", strings.Repeat("a", maxQuoted), `"` + strings.Repeat("a", maxQuoted) + `"`},
		{"long", strings.Repeat("a", 1<<20), `"` + strings.Repeat("a", maxQuoted) + `"...`},
		// é is two bytes: the cut must not split it.
		{"multibyte at the cut", strings.Repeat("a", maxQuoted-1) + "éé", `"` + strings.Repeat("a", maxQuoted-1) + `"...`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := quoteInput(tt.in); got != tt.want {
				t.Errorf("quoteInput = %.100s, want %.100s", got, tt.want)
			}
		})
	}
}

func TestBoundDetail_CutsLongDetailsOnARuneBoundary(t *testing.T) {
	long := strings.Repeat("é", maxDetail)
	got := boundDetail(long)
	if len(got) > maxDetail+len("...") || !utf8.ValidString(got) || !strings.HasSuffix(got, "...") {
		t.Errorf("boundDetail: %d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
	}
	if d := "Not found"; boundDetail(d) != d {
		t.Errorf("a short detail changed: %q", boundDetail(d))
	}
}

// The chat service's refusals become statuses here, in one place.
func TestToAPIError_MapsChatRefusals(t *testing.T) {
	full := fmt.Errorf("%w: 4 messages, the most sessions.max_messages allows", session.ErrFull)
	tests := []struct {
		name     string
		err      error
		status   int
		code     string
		runID    string
		inDetail string
	}{
		{"empty message", chat.ErrEmptyMessage, 400, "invalid_request", "", "'message' is required"},
		{"unknown agent", &chat.UnknownAgentError{Name: "nobody"}, 404, "unknown_agent", "", `"nobody"`},
		{"malformed session id", chat.ErrMalformedSessionID, 400, "invalid_request", "", "session id"},
		{"someone else's session", chat.ErrSessionNotFound, 404, "not_found", "", ""},
		{"agent mismatch", fmt.Errorf("%w %q", chat.ErrAgentMismatch, "billing"), 400, "invalid_request", "", `"billing"`},
		{"full before the run", full, 409, "session_full", "", "(4 messages, the most"},
		{"full after the run", &chat.RunError{RunID: "run_1", Err: full}, 409, "session_full", "run_1", "4 messages"},
		{"overloaded", chat.ErrOverloaded, 503, "overloaded", "", ""},
		{"audit down in the run", &chat.RunError{RunID: "run_2", Err: fmt.Errorf("record run start: %w", audit.ErrUnavailable)}, 503, "audit_unavailable", "run_2", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ae := toAPIError(tt.err)
			if ae.Status != tt.status || ae.Code != tt.code || ae.RunID != tt.runID || !strings.Contains(ae.Detail, tt.inDetail) {
				t.Errorf("toAPIError = %+v, want %d %s run %q detail containing %q", ae, tt.status, tt.code, tt.runID, tt.inDetail)
			}
		})
	}
}
