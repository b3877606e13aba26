// Package audit records every authentication failure, authorization decision,
// run and tool call as a hash-chained, tamper-evident event log that is written
// before anything it describes is allowed to happen.
package audit

import (
	"context"
	"errors"
	"time"

	"github.com/gatehousehq/gatehouse/internal/principal"
)

// Event types, named resource.verb.
const (
	TypeAuthFailed     = "auth.failed"
	TypeAuthzDecided   = "authz.decided"
	TypeRunStarted     = "run.started"
	TypeRunFinished    = "run.finished"
	TypeToolDecided    = "tool.decided"
	TypeToolFinished   = "tool.finished"
	TypeSessionDenied  = "session.denied"
	TypeConfigReloaded = "config.reloaded"
	// A run paused for human approval, a person's decision, the run resumed.
	TypeApprovalRequested = "approval.requested"
	TypeApprovalDecided   = "approval.decided"
	TypeRunPaused         = "run.paused"
	TypeRunResumed        = "run.resumed"
	// TypeAuthSuppressed summarizes authentication failures that were counted
	// but not recorded one by one because they exceeded the recording bound.
	TypeAuthSuppressed = "auth.suppressed"
	// TypeMCPToolChanged records an MCP server presenting a declared tool
	// differently from its pin; the tool is disabled.
	TypeMCPToolChanged = "mcp.tool_changed"
	// TypeDataFound records a data protection finding: its type, where it
	// was, the action taken and a keyed hash, never the value.
	TypeDataFound = "data.found"
)

// Decisions.
const (
	Allow = "allow"
	Deny  = "deny"
)

// Usage is a model's token usage for a run.
type Usage struct {
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	TotalTokens      int64 `json:"total_tokens"`
}

// Event is one audit record. Callers fill the descriptive fields; the log
// fills Seq, Time (when zero), ChainID, PrevHash and Hash, and transforms
// Content according to the configured content mode before it is stored.
type Event struct {
	Seq      int64     `json:"seq"`
	Time     time.Time `json:"time"`
	ChainID  string    `json:"chain_id"`
	PrevHash string    `json:"prev_hash"`
	Hash     string    `json:"hash"`

	RequestID string `json:"request_id,omitempty"`
	RunID     string `json:"run_id,omitempty"`
	SessionID string `json:"session_id,omitempty"`
	Type      string `json:"type"`

	Subject    string   `json:"subject,omitempty"`
	AuthMethod string   `json:"auth_method,omitempty"`
	Issuer     string   `json:"issuer,omitempty"`
	Roles      []string `json:"roles,omitempty"`
	// Scopes are the caller's OAuth scopes (recorded since policy diff
	// replays decisions: a scope may grant a tool's permission).
	Scopes []string `json:"scopes,omitempty"`

	Decision string `json:"decision,omitempty"`
	Rule     string `json:"rule,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Resource string `json:"resource,omitempty"`

	// Content holds message or argument contents keyed by name ("message",
	// "arguments", "response"). Raw on the way in; stored per audit.content.
	Content map[string]string `json:"content,omitempty"`

	Outcome   string `json:"outcome,omitempty"`
	LatencyMS int64  `json:"latency_ms,omitempty"`
	Model     string `json:"model,omitempty"`
	Usage     *Usage `json:"usage,omitempty"`

	// Count is how many occurrences an aggregate event stands for (the
	// suppressed authentication failures of an auth.suppressed event).
	Count int64 `json:"count,omitempty"`

	// TraceID is the W3C trace id of the request the event belongs to
	// (hex), so an event leads to its trace and back. Events from before
	// tracing have none, and their hashes are unchanged: an empty trace
	// id is left out of the canonical encoding.
	TraceID string `json:"trace_id,omitempty"`

	// Actor is the delegation chain the subject acted through, nearest
	// first (principal.Actor). Empty for a subject acting itself, and then
	// left out of the canonical encoding, so earlier events hash as before.
	Actor []Actor `json:"actor,omitempty"`
}

// Actor is one party of a delegation chain, as recorded.
type Actor struct {
	Subject  string `json:"subject,omitempty"`
	ClientID string `json:"client_id,omitempty"`
}

// By returns e with the caller's identity — subject, authentication
// method, issuer, roles, scopes and the actors acting for the subject —
// taken from p.
func (e Event) By(p *principal.Principal) Event {
	e.Subject, e.AuthMethod, e.Issuer, e.Roles, e.Scopes = p.Subject, string(p.Method), p.Issuer, p.Roles, p.Scopes
	e.Actor = nil
	for _, a := range p.Actor {
		e.Actor = append(e.Actor, Actor{Subject: a.Subject, ClientID: a.ClientID})
	}
	return e
}

// ErrUnavailable means the log could not durably record events within its
// bound. Whatever the events describe must not happen (fail closed).
var ErrUnavailable = errors.New("audit log unavailable")

// Sink records events. Record returns only once the events are durable, or
// an error wrapping ErrUnavailable; it must be safe for concurrent use.
type Sink interface {
	Record(ctx context.Context, events ...Event) error
}
