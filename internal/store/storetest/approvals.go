package storetest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehousehq/gatehouse/internal/approval"
)

// TestApprovalStore runs the paused-run and approval contract against
// stores from open, each of which must be fresh and empty.
func TestApprovalStore(t *testing.T, open func(t *testing.T) approval.Store) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	alice := approval.Requester{Subject: "alice", Method: "api_key"}
	sup := approval.Requester{Subject: "sam", Method: "jwt", Issuer: "https://idp"}
	paused := func(s approval.Store, run string, n int) []approval.Approval {
		t.Helper()
		var as []approval.Approval
		for i := range n {
			args := `{"field":"status","policy_id":"POL-500","value":"lapsed"}`
			as = append(as, approval.Approval{ID: run + "_a" + string(rune('0'+i)), RunID: run, CallID: "call_" + string(rune('0'+i)),
				Tool: "policy_update", Arguments: args, ArgsSHA256: approval.ArgsHash(args), Owner: "api_key:0::alice",
				RequestedBy: alice, Approvers: []string{"supervisor"}, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)})
		}
		if err := s.CreateRun(ctx, approval.Run{ID: run, Owner: "api_key:0::alice", Agent: "support", SessionID: "s1",
			Status: approval.RunAwaiting, State: []byte(`{"k":1}`), UpdatedAt: t0}, as); err != nil {
			t.Fatal(err)
		}
		return as
	}

	t.Run("StoredAsGiven", func(t *testing.T) {
		s := open(t)
		as := paused(s, "run_1", 2)
		got, err := s.RunApprovals(ctx, "run_1")
		if err != nil {
			t.Fatal(err)
		}
		for i := range as {
			as[i].Status = approval.StatusPending
		}
		if d := cmp.Diff(as, got); d != "" {
			t.Errorf("RunApprovals (-want +got):\n%s", d)
		}
		r, err := s.GetRun(ctx, "run_1")
		if err != nil || r.Status != approval.RunAwaiting || string(r.State) != `{"k":1}` || r.Agent != "support" || r.SessionID != "s1" {
			t.Errorf("GetRun = %+v, %v", r, err)
		}
		if _, err := s.GetRun(ctx, "run_x"); !errors.Is(err, approval.ErrNotFound) {
			t.Errorf("GetRun(unknown) = %v, want ErrNotFound", err)
		}
		if _, err := s.GetApproval(ctx, "apr_x"); !errors.Is(err, approval.ErrNotFound) {
			t.Errorf("GetApproval(unknown) = %v, want ErrNotFound", err)
		}
		pend, err := s.ListPending(ctx, t0)
		if err != nil || len(pend) != 2 {
			t.Errorf("ListPending = %d, %v; want 2", len(pend), err)
		}
		if pend, _ := s.ListPending(ctx, t0.Add(time.Hour)); len(pend) != 0 {
			t.Errorf("ListPending after expiry = %d, want 0", len(pend))
		}
	})

	t.Run("DecidedOnceUnderConcurrency", func(t *testing.T) {
		s := open(t)
		as := paused(s, "run_1", 1)
		var wins atomic.Int32
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				status := approval.StatusApproved
				if i%2 == 1 {
					status = approval.StatusDenied
				}
				err := s.Decide(ctx, as[0].ID, status, sup, "ok", t0.Add(time.Minute))
				switch {
				case err == nil:
					wins.Add(1)
				case !errors.Is(err, approval.ErrGone):
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d deciders won, want exactly 1", wins.Load())
		}
		a, err := s.GetApproval(ctx, as[0].ID)
		if err != nil || a.DecidedBy != sup || a.Comment != "ok" || !a.DecidedAt.Equal(t0.Add(time.Minute)) || a.Status == approval.StatusPending {
			t.Errorf("GetApproval = %+v, %v", a, err)
		}
		if err := s.Decide(ctx, "apr_x", approval.StatusApproved, sup, "", t0); !errors.Is(err, approval.ErrNotFound) {
			t.Errorf("Decide(unknown) = %v, want ErrNotFound", err)
		}
	})

	t.Run("ExpiredCannotBeDecided", func(t *testing.T) {
		s := open(t)
		as := paused(s, "run_1", 1)
		late := t0.Add(time.Hour)
		if err := s.Decide(ctx, as[0].ID, approval.StatusApproved, sup, "", late); !errors.Is(err, approval.ErrGone) {
			t.Fatalf("Decide at expiry = %v, want ErrGone", err)
		}
		if ok, _ := s.ClaimRun(ctx, "run_1", late, late.Add(time.Minute)); ok {
			t.Fatal("a run with a pending (unexpired-marked) approval was claimed")
		}
		exp, err := s.Expire(ctx, late)
		if err != nil || len(exp) != 1 || exp[0].ID != as[0].ID || exp[0].Status != approval.StatusExpired {
			t.Fatalf("Expire = %+v, %v", exp, err)
		}
		if exp, _ := s.Expire(ctx, late); len(exp) != 0 {
			t.Errorf("Expire again = %+v, want none", exp)
		}
		ready, err := s.ReadyRuns(ctx)
		if err != nil || len(ready) != 1 || ready[0] != "run_1" {
			t.Errorf("ReadyRuns = %v, %v", ready, err)
		}
	})

	t.Run("ARunIsClaimedOnceAllAreDecided", func(t *testing.T) {
		s := open(t)
		as := paused(s, "run_1", 2)
		now := t0.Add(time.Minute)
		if err := s.Decide(ctx, as[0].ID, approval.StatusApproved, sup, "", now); err != nil {
			t.Fatal(err)
		}
		if ready, _ := s.ReadyRuns(ctx); len(ready) != 0 {
			t.Fatalf("ReadyRuns with one pending = %v", ready)
		}
		if ok, _ := s.ClaimRun(ctx, "run_1", now, now.Add(time.Minute)); ok {
			t.Fatal("claimed a run with a pending approval")
		}
		if err := s.Decide(ctx, as[1].ID, approval.StatusDenied, sup, "no", now); err != nil {
			t.Fatal(err)
		}
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := s.ClaimRun(ctx, "run_1", now, now.Add(time.Minute))
				if err != nil {
					t.Error(err)
				}
				if ok {
					wins.Add(1)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d claims won, want 1", wins.Load())
		}
		if ok, _ := s.MarkExecuted(ctx, as[1].ID); ok {
			t.Error("a denied call was marked executed")
		}
		first, _ := s.MarkExecuted(ctx, as[0].ID)
		second, _ := s.MarkExecuted(ctx, as[0].ID)
		if !first || second {
			t.Errorf("MarkExecuted twice = %v, %v; want true, false", first, second)
		}
		if err := s.FinishRun(ctx, "run_1", approval.RunCompleted, []byte(`{"response":"done"}`), "", now); err != nil {
			t.Fatal(err)
		}
		if err := s.FinishRun(ctx, "run_1", approval.RunFailed, nil, "x", now); err == nil {
			t.Error("a finished run was finished again")
		}
		r, _ := s.GetRun(ctx, "run_1")
		if r.Status != approval.RunCompleted || string(r.Result) != `{"response":"done"}` {
			t.Errorf("GetRun = %+v", r)
		}
	})

	t.Run("ARunPausesAgainWithNewApprovals", func(t *testing.T) {
		s := open(t)
		as := paused(s, "run_1", 1)
		now := t0.Add(time.Minute)
		if err := s.Decide(ctx, as[0].ID, approval.StatusApproved, sup, "", now); err != nil {
			t.Fatal(err)
		}
		more := approval.Approval{ID: "run_1_b", RunID: "run_1", CallID: "call_9", Tool: "policy_update", Arguments: "{}",
			ArgsSHA256: approval.ArgsHash("{}"), Owner: "api_key:0::alice", RequestedBy: alice, Approvers: []string{"supervisor"},
			CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := s.RepauseRun(ctx, "run_1", []byte(`{"k":2}`), []approval.Approval{more}, now); err == nil {
			t.Fatal("a run not running was paused again")
		}
		if ok, _ := s.ClaimRun(ctx, "run_1", now, now.Add(time.Minute)); !ok {
			t.Fatal("ClaimRun failed")
		}
		if err := s.RepauseRun(ctx, "run_1", []byte(`{"k":2}`), []approval.Approval{more}, now); err != nil {
			t.Fatal(err)
		}
		r, _ := s.GetRun(ctx, "run_1")
		got, _ := s.RunApprovals(ctx, "run_1")
		if r.Status != approval.RunAwaiting || string(r.State) != `{"k":2}` || len(got) != 2 || got[1].ID != "run_1_b" || got[1].Status != approval.StatusPending {
			t.Fatalf("after RepauseRun: %+v, %+v", r, got)
		}
		if ok, _ := s.ClaimRun(ctx, "run_1", now, now.Add(time.Minute)); ok {
			t.Error("claimed with the new approval pending")
		}
	})

	// A replica that claimed a run and died mid-resume: the run is reported
	// failed after its lease and never claimed again; a call it had marked
	// is never run again.
	t.Run("AClaimWithoutCompletionFailsAndIsNeverRerun", func(t *testing.T) {
		s := open(t)
		as := paused(s, "run_1", 1)
		now := t0.Add(time.Minute)
		if err := s.Decide(ctx, as[0].ID, approval.StatusApproved, sup, "", now); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.ClaimRun(ctx, "run_1", now, now.Add(time.Minute)); !ok || err != nil {
			t.Fatalf("ClaimRun = %v, %v", ok, err)
		}
		if ok, _ := s.MarkExecuted(ctx, as[0].ID); !ok {
			t.Fatal("MarkExecuted failed")
		}
		// The replica dies here.
		if f, _ := s.FailStale(ctx, now.Add(30*time.Second), "lost"); len(f) != 0 {
			t.Fatalf("FailStale within the lease = %v", f)
		}
		f, err := s.FailStale(ctx, now.Add(2*time.Minute), "lost")
		if err != nil || len(f) != 1 || f[0] != "run_1" {
			t.Fatalf("FailStale = %v, %v", f, err)
		}
		r, _ := s.GetRun(ctx, "run_1")
		if r.Status != approval.RunFailed || r.Error != "lost" {
			t.Errorf("GetRun = %+v", r)
		}
		if ok, _ := s.ClaimRun(ctx, "run_1", now, now.Add(time.Hour)); ok {
			t.Error("a failed run was claimed again")
		}
		if ok, _ := s.MarkExecuted(ctx, as[0].ID); ok {
			t.Error("an executed call was marked again")
		}
		if err := s.FinishRun(ctx, "run_1", approval.RunCompleted, nil, "", now); err == nil {
			t.Error("the dead replica's late finish overwrote the failure")
		}
	})
}
