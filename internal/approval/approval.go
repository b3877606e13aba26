// Package approval is human approval of tool calls: a call whose tool
// needs it pauses its run until a person holding an approver role — not the
// requester — has seen the call's exact arguments and said yes or no. It
// holds the domain types, the store contract every backend implements, and
// the rules for deciding; resuming a run belongs to the chat service.
package approval

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/gatehousehq/gatehouse/internal/principal"
)

// Approval states. Pending is the only state that can change, once.
const (
	StatusPending  = "pending"
	StatusApproved = "approved"
	StatusDenied   = "denied"
	StatusExpired  = "expired"
)

// Run states, as GET /v1/runs/{id} reports them.
const (
	RunAwaiting  = "awaiting_approval"
	RunRunning   = "running"
	RunCompleted = "completed"
	RunFailed    = "failed"
)

// Errors of deciding and reading; the HTTP layer maps each to a status.
var (
	// ErrNotFound: no such approval or run for this caller (404).
	ErrNotFound = errors.New("not found")
	// ErrSelfApproval: the requester tried to decide their own call (403).
	ErrSelfApproval = errors.New("the requester of a call cannot decide its approval")
	// ErrNotApprover: the caller holds none of the approver roles (403).
	ErrNotApprover = errors.New("the caller holds none of the approver roles of this call")
	// ErrArgsMismatch: args_sha256 is not the hash of the pending call's
	// arguments (409): an approval binds to the exact arguments.
	ErrArgsMismatch = errors.New("args_sha256 does not match the arguments of this call")
	// ErrGone: the approval was already decided or has expired (410).
	ErrGone = errors.New("the approval was already decided or has expired")
	// ErrBadDecision: the decision is neither approve nor deny (400).
	ErrBadDecision = errors.New(`decision must be "approve" or "deny"`)
)

// Requester is who asked for a call, as approvers see it.
type Requester struct {
	Subject string `json:"subject"`
	Method  string `json:"method"`
	Issuer  string `json:"issuer,omitempty"`
}

// Approval is one tool call waiting for (or having had) a person's decision.
type Approval struct {
	ID     string
	RunID  string
	CallID string // the model's tool call id
	Tool   string
	// Arguments are the call's canonical arguments JSON, exactly what runs
	// when approved; ArgsSHA256 is its SHA-256, hex.
	Arguments  string
	ArgsSHA256 string
	// Owner is the requester's principal key (method, issuer, subject).
	Owner       string
	RequestedBy Requester
	Approvers   []string // roles, any of which may decide
	CreatedAt   time.Time
	ExpiresAt   time.Time

	Status    string
	DecidedBy Requester // zero until decided by a person
	Comment   string
	DecidedAt time.Time
	// Executed is set, once, by the replica that runs the approved call,
	// before it runs: the tool never runs twice.
	Executed bool
}

// Run is a paused or resumed run.
type Run struct {
	ID    string
	Owner string // the requester's principal key
	// Kind says which door paused the run, and so who continues it.
	Kind RunKind
	// Agent names what ran: the agent, the pass-through model, or the
	// MCP tool.
	Agent     string
	SessionID string
	Status    string
	// State is what resuming needs (the chat service's encoding).
	State []byte
	// Result is the finished run's answer (the chat service's encoding);
	// Error says why a failed run failed.
	Result []byte
	Error  string
	// LeaseUntil bounds a resumption: a run still running after it is
	// reported failed, never run again.
	LeaseUntil time.Time
	UpdatedAt  time.Time
}

// Store keeps paused runs and their approvals. Every state change is a
// conditional update, so two replicas racing never both win.
type Store interface {
	// CreateRun stores a paused run and its pending approvals together.
	CreateRun(ctx context.Context, run Run, approvals []Approval) error
	// GetApproval returns one approval (ErrNotFound when there is none).
	GetApproval(ctx context.Context, id string) (Approval, error)
	// ListPending returns the approvals pending at now, oldest first.
	ListPending(ctx context.Context, now time.Time) ([]Approval, error)
	// RunApprovals returns a run's approvals, in call order.
	RunApprovals(ctx context.Context, runID string) ([]Approval, error)
	// Decide moves a pending, unexpired approval to status (approved or
	// denied) with who decided and why. It returns ErrGone when the
	// approval is no longer pending or expired at now; ErrNotFound when
	// there is none.
	Decide(ctx context.Context, id, status string, by Requester, comment string, now time.Time) error
	// Expire moves every pending approval whose time is up at now to
	// expired, returning them.
	Expire(ctx context.Context, now time.Time) ([]Approval, error)
	// GetRun returns a run (ErrNotFound when there is none).
	GetRun(ctx context.Context, id string) (Run, error)
	// ReadyRuns returns the ids of runs awaiting approval none of whose
	// approvals is still pending.
	ReadyRuns(ctx context.Context) ([]string, error)
	// ClaimRun moves a run awaiting approval, none of whose approvals is
	// pending, to running with a lease until leaseUntil. Exactly one caller
	// gets true.
	ClaimRun(ctx context.Context, id string, now, leaseUntil time.Time) (bool, error)
	// MarkExecuted sets an approved call's Executed flag; exactly one
	// caller gets true, and only that one may run the call.
	MarkExecuted(ctx context.Context, approvalID string) (bool, error)
	// RepauseRun moves a running run back to awaiting approval with new
	// state and new pending approvals (a resumed run that reached another
	// call needing approval).
	RepauseRun(ctx context.Context, id string, state []byte, approvals []Approval, now time.Time) error
	// FinishRun moves a running run to completed or failed.
	FinishRun(ctx context.Context, id, status string, result []byte, errText string, now time.Time) error
	// FailStale moves runs still running after their lease to failed with
	// reason, returning their ids. Their calls are not run again.
	FailStale(ctx context.Context, now time.Time, reason string) ([]string, error)
}

// ArgsHash is the SHA-256 (hex) of canonical arguments JSON: what an
// approver sends back as args_sha256.
func ArgsHash(canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	return hex.EncodeToString(sum[:])
}

// RequesterOf is p as approvals name a requester or a decider.
func RequesterOf(p *principal.Principal) Requester {
	return Requester{Subject: p.Subject, Method: string(p.Method), Issuer: p.Issuer}
}

// String names r for rules and the record: method:subject (issuer).
func (r Requester) String() string {
	if r.Subject == "" {
		return "nobody"
	}
	s := r.Method + ":" + r.Subject
	if r.Issuer != "" {
		s += " (" + r.Issuer + ")"
	}
	return s
}
