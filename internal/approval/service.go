package approval

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/principal"
)

// Decisions a person can send.
const (
	DecisionApprove = "approve"
	DecisionDeny    = "deny"
)

// Service lists and decides approvals and keeps paused runs moving: after
// a decision, and on every Sweep, runs with nothing pending are handed to
// Resume (which claims them in the store, so exactly one replica runs
// each), expired approvals are marked, and resumptions that outlived their
// lease are reported failed.
type Service struct {
	Store Store
	Audit audit.Sink
	Log   *slog.Logger
	Now   func() time.Time
	// Continuers continue each kind of run with the live config.
	Continuers Continuers
	// ResumeLease is the margin a resumption gets beyond its continuer's
	// own lease before it is reported lost.
	ResumeLease time.Duration

	// wg tracks resumptions started here, for Wait.
	wg sync.WaitGroup
}

// MayDecide reports whether p may decide a: p holds an approver role and
// is not its requester (same method, issuer and subject).
func MayDecide(p *principal.Principal, a Approval) error {
	if p.Key() == a.Owner {
		return ErrSelfApproval
	}
	for _, r := range p.Roles {
		if slices.Contains(a.Approvers, r) {
			return nil
		}
	}
	return ErrNotApprover
}

// List returns the pending approvals p may decide.
func (s *Service) List(ctx context.Context, p *principal.Principal) ([]Approval, error) {
	all, err := s.Store.ListPending(ctx, s.now())
	if err != nil {
		return nil, err
	}
	var out []Approval
	for _, a := range all {
		if MayDecide(p, a) == nil {
			out = append(out, a)
		}
	}
	return out, nil
}

// DecideRequest is one person's answer to one approval.
type DecideRequest struct {
	Principal  *principal.Principal
	RequestID  string
	ID         string
	Decision   string // approve | deny
	ArgsSHA256 string // the hash of the arguments the person was shown
	Comment    string
}

// Decide records p's decision on one approval. Refusals, in order: an
// unknown id (ErrNotFound), the requester themself (ErrSelfApproval), no
// approver role (ErrNotApprover), already decided or expired (ErrGone),
// args_sha256 not the call's (ErrArgsMismatch). The decision is made by a
// conditional update, so of two racing deciders exactly one wins (the
// other gets ErrGone). Every refusal and decision is recorded as
// approval.decided; the run is resumed in the background.
func (s *Service) Decide(ctx context.Context, req DecideRequest) (Approval, error) {
	if req.Decision != DecisionApprove && req.Decision != DecisionDeny {
		return Approval{}, ErrBadDecision
	}
	a, err := s.Store.GetApproval(ctx, req.ID)
	if err != nil {
		return Approval{}, err
	}
	now := s.now()
	ev := audit.Event{Type: audit.TypeApprovalDecided, RequestID: req.RequestID, RunID: a.RunID,
		Resource: "approval:" + a.ID, Rule: "approval of " + a.Tool}.By(req.Principal)
	ev.Content = map[string]string{"args_sha256": req.ArgsSHA256}
	if req.Comment != "" {
		ev.Content["comment"] = req.Comment
	}
	err = MayDecide(req.Principal, a)
	switch {
	case err != nil:
	case a.Status != StatusPending || !now.Before(a.ExpiresAt):
		err = ErrGone
	case req.ArgsSHA256 != a.ArgsSHA256:
		err = ErrArgsMismatch
	default:
		status := StatusApproved
		if req.Decision == DecisionDeny {
			status = StatusDenied
		}
		by := RequesterOf(req.Principal)
		err = s.Store.Decide(ctx, a.ID, status, by, req.Comment, now)
		if err == nil {
			a.Status, a.DecidedBy, a.Comment, a.DecidedAt = status, by, req.Comment, now
		}
	}
	if err != nil {
		ev.Decision, ev.Outcome, ev.Reason = audit.Deny, "refused", err.Error()
	} else {
		ev.Decision, ev.Outcome, ev.Reason = audit.Allow, a.Status, "approved by "+req.Principal.Subject
		if a.Status == StatusDenied {
			ev.Decision, ev.Reason = audit.Deny, "denied by "+req.Principal.Subject
		}
	}
	if rerr := s.Audit.Record(context.WithoutCancel(ctx), ev); rerr != nil {
		return Approval{}, fmt.Errorf("record approval decision: %w", rerr)
	}
	if err != nil {
		return Approval{}, err
	}
	s.resume(a.RunID)
	return a, nil
}

// Sweep expires approvals whose time is up (recording each), fails
// resumptions that outlived their lease, and resumes every run that has
// nothing pending. Call it periodically on every replica.
func (s *Service) Sweep(ctx context.Context) error {
	now := s.now()
	expired, err := s.Store.Expire(ctx, now)
	if err != nil {
		return err
	}
	for _, a := range expired {
		ev := audit.Event{Type: audit.TypeApprovalDecided, RunID: a.RunID, Resource: "approval:" + a.ID,
			Rule: "approval of " + a.Tool, Decision: audit.Deny, Outcome: StatusExpired, Reason: "nobody decided before it expired"}
		if err := s.Audit.Record(ctx, ev); err != nil {
			return fmt.Errorf("record approval expiry: %w", err)
		}
	}
	if _, err := s.Store.FailStale(ctx, now, ErrResumeLost); err != nil {
		return err
	}
	ready, err := s.Store.ReadyRuns(ctx)
	if err != nil {
		return err
	}
	for _, id := range ready {
		s.resume(id)
	}
	return nil
}

// resume continues a run in the background, detached from the request
// that decided it.
func (s *Service) resume(runID string) {
	if s.Continuers == nil {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.Resume(context.Background(), runID); err != nil && s.Log != nil {
			s.Log.Error("resume run", "run_id", runID, "err", err)
		}
	}()
}

// Wait waits for the resumptions started here.
func (s *Service) Wait() { s.wg.Wait() }
