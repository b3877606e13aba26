package policytest

import (
	"fmt"
	"io"
	"time"
)

// WriteText prints the diff for a person reviewing a change.
func (d *Diff) WriteText(w io.Writer) {
	fmt.Fprintf(w, "role × tool cells that change: %d\n", len(d.Cells))
	for _, c := range d.Cells {
		fmt.Fprintf(w, "    %s × %s: %s → %s\n", c.Role, c.Tool, c.From, c.To)
	}
	fmt.Fprintf(w, "conditions that change: %d\n", len(d.Conditions))
	for _, c := range d.Conditions {
		fmt.Fprintf(w, "    %s: %s → %s\n", c.Key, orNone(c.From), orNone(c.To))
	}
	r := d.Replay
	if r == nil {
		return
	}
	fmt.Fprintf(w, "recorded tool decisions since %s: %d; decided again: %d; verdict changes: %d\n",
		r.Since.UTC().Format(time.RFC3339), r.Decisions, r.Replayed, r.Changed)
	for _, g := range r.Changes {
		fmt.Fprintf(w, "    %s, roles [%s]: %s → %s: %d\n", g.Tool, g.Roles, g.From, g.To, g.Count)
		for _, ex := range g.Examples {
			fmt.Fprintf(w, "        %s seq %d %s by %s: was [%s], now [%s]\n",
				ex.Chain, ex.Seq, ex.Time.UTC().Format(time.RFC3339), ex.Subject, ex.FromRule, ex.ToRule)
		}
	}
	for _, s := range r.NotReplayed {
		fmt.Fprintf(w, "    not decided again: %d: %s\n", s.Count, s.Reason)
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
