package approval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// RunKind says which door paused a run, and so who continues it.
type RunKind string

// The kinds of paused run.
const (
	// KindAgent: an agent's run, continued on the server (chat).
	KindAgent RunKind = "agent"
	// KindPassthrough: a pass-through turn whose calls are released to the
	// client once decided.
	KindPassthrough RunKind = "passthrough"
	// KindMCP: one /mcp tools/call, run on the server once approved.
	KindMCP RunKind = "mcp"
)

// Continuer is how one kind of run goes on once none of its approvals is
// pending. The approval service owns everything else: the claim, the
// lease, the run-once flag, repausing, finishing and the run's status.
type Continuer interface {
	// Lease is how long continuing run may take beyond the service's own
	// margin (for an agent: its run timeout).
	Lease(run Run) time.Duration
	// Continue acts on the decided approvals. An approved call runs only
	// after claim(ctx, approvalID) returned true (exactly one caller, on
	// any replica, gets true). It returns the run's result, or a Repause
	// when it reached new calls needing approval.
	Continue(ctx context.Context, run Run, approvals []Approval, claim func(context.Context, string) (bool, error)) (Continued, error)
}

// Continued is what continuing a run came to.
type Continued struct {
	// Result is the finished run's answer, as the run's door encodes it
	// (GET /v1/runs/{id} shows it).
	Result json.RawMessage
	// Repause, when set, pauses the run again.
	Repause *Repause
}

// Repause is a resumed run stopped at new calls awaiting approval.
type Repause struct {
	State     []byte
	Approvals []Approval
}

// Continuers gives the live continuation of each kind of run, and a func
// to call once it is done with it (the config it belongs to may be
// retired meanwhile). A kind that is no longer served is nil.
type Continuers interface {
	Continuer(kind RunKind) (Continuer, func())
}

// ErrResumeLost is why a run whose resumption outlived its lease failed:
// the replica resuming it stopped; its approved calls are not run again.
const ErrResumeLost = "the server resuming this run stopped before it finished; approved calls that had started are not run again"

// Resume continues a paused run once none of its approvals is pending, if
// this caller wins the claim on it (exactly one does, on any replica). It
// returns nil when there is nothing (more) to do here.
func (s *Service) Resume(ctx context.Context, runID string) error {
	run, err := s.Store.GetRun(ctx, runID)
	if err != nil || run.Status != RunAwaiting {
		return err
	}
	c, done := s.continuer(run.Kind)
	defer done()
	lease := s.ResumeLease
	if c != nil {
		lease += c.Lease(run)
	}
	now := s.now()
	won, err := s.Store.ClaimRun(ctx, runID, now, now.Add(lease))
	if err != nil || !won {
		return err
	}
	out, runErr := s.continueRun(ctx, c, run)
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	switch {
	case runErr != nil:
		return s.Store.FinishRun(fctx, runID, RunFailed, nil, runErr.Error(), s.now())
	case out.Repause != nil:
		return s.Store.RepauseRun(fctx, runID, out.Repause.State, out.Repause.Approvals, s.now())
	}
	return s.Store.FinishRun(fctx, runID, RunCompleted, out.Result, "", s.now())
}

func (s *Service) continueRun(ctx context.Context, c Continuer, run Run) (Continued, error) {
	if c == nil {
		return Continued{}, fmt.Errorf("runs of kind %q are no longer served by this configuration", run.Kind)
	}
	as, err := s.Store.RunApprovals(ctx, run.ID)
	if err != nil {
		return Continued{}, err
	}
	return c.Continue(ctx, run, as, s.Store.MarkExecuted)
}

func (s *Service) continuer(kind RunKind) (Continuer, func()) {
	if s.Continuers == nil {
		return nil, func() {}
	}
	c, done := s.Continuers.Continuer(kind)
	if done == nil {
		done = func() {}
	}
	return c, done
}

// Pause stores a run stopped at held calls together with their pending
// approvals, at now; from then on the Service moves it along.
func Pause(ctx context.Context, st Store, now time.Time, run Run, approvals []Approval) error {
	if st == nil {
		return ErrUnavailable
	}
	run.Status, run.UpdatedAt = RunAwaiting, now.UTC()
	if err := st.CreateRun(ctx, run, approvals); err != nil {
		return fmt.Errorf("store paused run: %w", err)
	}
	return nil
}

// ErrUnavailable: a call needs approval but no approval store is
// configured, so nothing can be held.
var ErrUnavailable = errors.New("a tool call needs approval but no approval store is configured")

// Status is a run as its owner sees it (GET /v1/runs/{id}).
type Status struct {
	Run       Run
	Status    string
	Error     string
	Approvals []Approval      // while it waits or runs
	Result    json.RawMessage // when completed
}

// RunStatus returns owner's run; anyone else's is ErrNotFound. A run
// still running after its lease is reported failed.
func (s *Service) RunStatus(ctx context.Context, owner, id string) (*Status, error) {
	if s == nil || s.Store == nil {
		return nil, ErrNotFound
	}
	run, err := s.Store.GetRun(ctx, id)
	if err != nil {
		return nil, err
	}
	if run.Owner != owner {
		return nil, ErrNotFound
	}
	st := &Status{Run: run, Status: run.Status, Error: run.Error}
	if run.Status == RunRunning && !run.LeaseUntil.IsZero() && s.now().After(run.LeaseUntil) {
		st.Status, st.Error = RunFailed, ErrResumeLost
	}
	if st.Status == RunAwaiting || st.Status == RunRunning {
		if st.Approvals, err = s.Store.RunApprovals(ctx, id); err != nil {
			return nil, err
		}
	}
	if run.Status == RunCompleted {
		st.Result = run.Result
	}
	return st, nil
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}
