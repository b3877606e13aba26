package httpapi

import (
	"strings"
	"testing"
	"unicode/utf8"
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
