package policytest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/principal"
)

// EventSource is the audit log read back (audit.Store's Scan).
type EventSource interface {
	Scan(ctx context.Context, since time.Time, fn func(audit.Event) error) error
}

// Replay is the recorded tool decisions of a window decided again under a
// new policy.
type Replay struct {
	Since time.Time `json:"since"`
	// Decisions counts the recorded tool decisions in the window;
	// Replayed those decided again, Changed those whose verdict changes.
	Decisions   int           `json:"decisions"`
	Replayed    int           `json:"replayed"`
	Changed     int           `json:"changed"`
	Changes     []ChangeGroup `json:"changes"`
	NotReplayed []Skipped     `json:"not_replayed"`
}

// ChangeGroup is the decisions of one tool, by callers with the same roles,
// whose verdict changes the same way.
type ChangeGroup struct {
	Tool     string    `json:"tool"`
	Roles    string    `json:"roles"`
	From     string    `json:"from"` // allow | deny | approval, as recorded
	To       string    `json:"to"`   // as the new policy decides
	Count    int       `json:"count"`
	Examples []Example `json:"examples"`
}

// maxExamples bounds the examples a group lists.
const maxExamples = 5

// Example is one changed decision.
type Example struct {
	Chain    string    `json:"chain_id"`
	Seq      int64     `json:"seq"`
	Time     time.Time `json:"time"`
	Subject  string    `json:"subject"`
	RunID    string    `json:"run_id,omitempty"`
	FromRule string    `json:"from_rule"`
	ToRule   string    `json:"to_rule"`
	ToReason string    `json:"to_reason,omitempty"`
}

// Skipped counts the decisions that could not be decided again, by reason.
type Skipped struct {
	Reason string `json:"reason"`
	Count  int    `json:"count"`
}

// Why a recorded decision cannot be decided again.
const (
	skipRecheck   = "the final decision on a call a person answered (its approval.requested is replayed)"
	skipUnknown   = "a tool that was not configured (its name is recorded only as content)"
	skipDisabled  = "the tool was disabled (an MCP server presented it differently from its pin)"
	skipArgs      = "the arguments are not recorded in clear (audit.content: hmac or none), and the new policy offers the tool to the caller"
	skipClaims    = "the claims the new conditions read are not recorded in clear (recorded from this version on, under audit.content: full)"
	skipAllClaims = "the new conditions read claims in a way that cannot be named, and only named claims are recorded"
	skipScopes    = "a scope granted the permission, and scopes are recorded only from this version on"
)

// ReplayLog decides the tool decisions recorded in src since then again
// under pol, each at the time it was made.
func ReplayLog(ctx context.Context, src EventSource, pol Policy, since time.Time) (*Replay, error) {
	r := &Replay{Since: since, Changes: []ChangeGroup{}, NotReplayed: []Skipped{}}
	groups := map[string]*ChangeGroup{}
	skipped := map[string]int{}
	err := src.Scan(ctx, since, func(e audit.Event) error {
		if e.Type != audit.TypeToolDecided && e.Type != audit.TypeApprovalRequested {
			return nil
		}
		r.Decisions++
		from, to, rule, reason, skip := replayOne(ctx, pol, e)
		if skip != "" {
			skipped[skip]++
			return nil
		}
		r.Replayed++
		if from == to {
			return nil
		}
		r.Changed++
		tool := strings.TrimPrefix(e.Resource, "tool:")
		key := strings.Join([]string{tool, strings.Join(e.Roles, ","), from, to}, "\x00")
		g := groups[key]
		if g == nil {
			g = &ChangeGroup{Tool: tool, Roles: strings.Join(e.Roles, ","), From: from, To: to, Examples: []Example{}}
			groups[key] = g
		}
		g.Count++
		if len(g.Examples) < maxExamples {
			g.Examples = append(g.Examples, Example{Chain: e.ChainID, Seq: e.Seq, Time: e.Time, Subject: e.Subject,
				RunID: e.RunID, FromRule: e.Rule, ToRule: rule, ToReason: reason})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the audit log: %w", err)
	}
	for _, k := range slices.Sorted(maps.Keys(groups)) {
		r.Changes = append(r.Changes, *groups[k])
	}
	for _, reason := range slices.Sorted(maps.Keys(skipped)) {
		r.NotReplayed = append(r.NotReplayed, Skipped{Reason: reason, Count: skipped[reason]})
	}
	return r, nil
}

// replayOne decides one recorded decision again: the verdict recorded and
// the new one with its rule and reason, or why it cannot be decided.
func replayOne(ctx context.Context, pol Policy, e audit.Event) (from, to, rule, reason, skip string) {
	from = e.Decision
	if e.Type == audit.TypeApprovalRequested {
		from = "approval"
	}
	tool := strings.TrimPrefix(e.Resource, "tool:")
	switch {
	case strings.HasPrefix(e.Rule, "approval apr_") || strings.Contains(e.Rule, "; approval apr_"):
		return "", "", "", "", skipRecheck
	case e.Resource == "tool:(unknown)":
		return "", "", "", "", skipUnknown
	case e.Rule == "tool disabled":
		return "", "", "", "", skipDisabled
	case len(e.Scopes) == 0 && strings.Contains(e.Rule, "scope:"):
		return "", "", "", "", skipScopes
	}
	p := &principal.Principal{Subject: e.Subject, Method: principal.Method(e.AuthMethod), Issuer: e.Issuer,
		Roles: e.Roles, Scopes: e.Scopes, Claims: map[string]any{}}
	args := ""
	if t := pol.Tools[tool]; t != nil && pol.Offered(p, tool) {
		// The new policy would look at the arguments and the claims.
		a, ok := e.Content["arguments"]
		if !ok || strings.HasPrefix(a, audit.HMACPrefix) {
			return "", "", "", "", skipArgs
		}
		args = a
		if t.Policy.AllClaims {
			return "", "", "", "", skipAllClaims
		}
		if len(t.Policy.ClaimsRead) > 0 {
			claims, ok := recordedClaims(e, t.Policy.ClaimsRead)
			if !ok {
				return "", "", "", "", skipClaims
			}
			p.Claims = claims
		}
	}
	d := pol.Decide(ctx, p, tool, args, e.Time)
	return from, d.Verdict.String(), d.Event.Rule, d.Reason, ""
}

// recordedClaims reads the claims recorded with e; ok only when every
// claim in need was recorded (null: the caller lacked it).
func recordedClaims(e audit.Event, need []string) (map[string]any, bool) {
	c, ok := e.Content["claims"]
	if !ok || strings.HasPrefix(c, audit.HMACPrefix) {
		return nil, false
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(c), &rec); err != nil {
		return nil, false
	}
	out := map[string]any{}
	for _, name := range need {
		v, ok := rec[name]
		if !ok {
			return nil, false
		}
		if v != nil {
			out[name] = v
		}
	}
	return out, true
}
