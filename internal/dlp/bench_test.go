package dlp_test

import (
	"context"
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse/internal/dlp"
)

func BenchmarkProtect(b *testing.B) {
	p := newProtector(b)
	sc := dlp.Scope{Owner: "o", ID: "s"}
	for _, bc := range []struct{ name, text string }{
		{"plain-40B", "What is the status of claim CLM-1001?"},
		{"plain-512B", strings.Repeat("The claim was reviewed on 2026-10-01. ", 14)},
		{"x-512B", strings.Repeat("x", 512)},
		{"card-60B", "Is my card " + card + " still active, please?"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := p.Protect(context.Background(), sc, "bench", bc.text); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
