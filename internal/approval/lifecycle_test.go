package approval_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/approval"
	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/principal"
	"github.com/gatehousehq/gatehouse/internal/store/sqlite"
)

// clock is a fake clock the tests move by hand: no test here sleeps.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time                                        { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration)                                   { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newClock() *clock                                                 { return &clock{t: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)} }
func (r *recorder) Record(_ context.Context, evs ...audit.Event) error { r.add(evs); return nil }

type recorder struct {
	mu  sync.Mutex
	evs []audit.Event
}

func (r *recorder) add(evs []audit.Event) { r.mu.Lock(); r.evs = append(r.evs, evs...); r.mu.Unlock() }

// continuer counts its calls and runs each approved call through claim.
type continuer struct {
	mu    sync.Mutex
	calls int
	ran   []string
}

func (k *continuer) Lease(approval.Run) time.Duration { return time.Minute }

func (k *continuer) Continue(ctx context.Context, run approval.Run, as []approval.Approval, claim func(context.Context, string) (bool, error)) (approval.Continued, error) {
	k.mu.Lock()
	k.calls++
	k.mu.Unlock()
	for _, a := range as {
		if a.Status != approval.StatusApproved {
			continue
		}
		if won, err := claim(ctx, a.ID); err != nil || !won {
			continue
		}
		k.mu.Lock()
		k.ran = append(k.ran, a.ID)
		k.mu.Unlock()
	}
	b, _ := json.Marshal(map[string]any{"response": "done", "tool_calls": []any{}})
	return approval.Continued{Result: b}, nil
}

type kinds map[approval.RunKind]approval.Continuer

func (k kinds) Continuer(kind approval.RunKind) (approval.Continuer, func()) { return k[kind], nil }

var (
	alice = &principal.Principal{Subject: "alice", Method: principal.MethodAPIKey, Roles: []string{"agent"}}
	sue   = &principal.Principal{Subject: "sue", Method: principal.MethodAPIKey, Roles: []string{"supervisor"}}
)

func setup(t *testing.T, kind approval.RunKind) (*approval.Service, *clock, *continuer, approval.Approval) {
	t.Helper()
	st, err := sqlite.OpenSessions(context.Background(), filepath.Join(t.TempDir(), "sessions.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk, k := newClock(), &continuer{}
	svc := &approval.Service{Store: st, Audit: &recorder{}, Now: clk.Now, Continuers: kinds{kind: k}, ResumeLease: time.Minute}
	a := approval.Approval{ID: "apr_1", RunID: "run_1", CallID: "c1", Tool: "policy_update", Arguments: `{"x":1}`,
		ArgsSHA256: approval.ArgsHash(`{"x":1}`), Owner: alice.Key(), RequestedBy: approval.RequesterOf(alice),
		Approvers: []string{"supervisor"}, CreatedAt: clk.Now(), ExpiresAt: clk.Now().Add(30 * time.Minute), Status: approval.StatusPending}
	run := approval.Run{ID: "run_1", Owner: alice.Key(), Kind: kind, Agent: "support", State: []byte(`{}`)}
	if err := approval.Pause(context.Background(), st, clk.Now(), run, []approval.Approval{a}); err != nil {
		t.Fatal(err)
	}
	return svc, clk, k, a
}

func TestService_ApprovedRunContinuesOnceWithItsKind(t *testing.T) {
	for _, kind := range []approval.RunKind{approval.KindAgent, approval.KindPassthrough, approval.KindMCP} {
		t.Run(string(kind), func(t *testing.T) {
			svc, _, k, a := setup(t, kind)
			ctx := context.Background()
			if _, err := svc.Decide(ctx, approval.DecideRequest{Principal: sue, ID: a.ID, Decision: "approve", ArgsSHA256: a.ArgsSHA256}); err != nil {
				t.Fatal(err)
			}
			svc.Wait()
			// Sweeps after the run finished find nothing more to do.
			for range 3 {
				if err := svc.Sweep(ctx); err != nil {
					t.Fatal(err)
				}
			}
			svc.Wait()
			if k.calls != 1 || len(k.ran) != 1 {
				t.Fatalf("continued %d times, ran %v; want once", k.calls, k.ran)
			}
			st, err := svc.RunStatus(ctx, alice.Key(), "run_1")
			if err != nil || st.Status != approval.RunCompleted || st.Run.Kind != kind || string(st.Result) == "" {
				t.Fatalf("status = %+v, %v", st, err)
			}
			if _, err := svc.RunStatus(ctx, sue.Key(), "run_1"); err != approval.ErrNotFound {
				t.Errorf("another caller's run: %v, want ErrNotFound", err)
			}
		})
	}
}

func TestService_ExpiryFollowsTheInjectedClock(t *testing.T) {
	svc, clk, k, a := setup(t, approval.KindAgent)
	ctx := context.Background()
	clk.Add(29 * time.Minute)
	if err := svc.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := svc.Store.GetApproval(ctx, a.ID); got.Status != approval.StatusPending {
		t.Fatalf("before its TTL the approval is %s", got.Status)
	}
	clk.Add(2 * time.Minute)
	if err := svc.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	svc.Wait()
	if got, _ := svc.Store.GetApproval(ctx, a.ID); got.Status != approval.StatusExpired {
		t.Fatalf("after its TTL the approval is %s", got.Status)
	}
	if k.calls != 1 || len(k.ran) != 0 {
		t.Errorf("an expired run continued %d times and ran %v; want once, nothing run", k.calls, k.ran)
	}
	if _, err := svc.Decide(ctx, approval.DecideRequest{Principal: sue, ID: a.ID, Decision: "approve", ArgsSHA256: a.ArgsSHA256}); err != approval.ErrGone {
		t.Errorf("deciding an expired approval: %v, want ErrGone", err)
	}
}

func TestService_LostResumptionIsReportedFailedAfterItsLease(t *testing.T) {
	svc, clk, _, a := setup(t, approval.KindMCP)
	ctx := context.Background()
	svc.Continuers = nil // this replica decides, another claims and stops
	if _, err := svc.Decide(ctx, approval.DecideRequest{Principal: sue, ID: a.ID, Decision: "approve", ArgsSHA256: a.ArgsSHA256}); err != nil {
		t.Fatal(err)
	}
	if won, err := svc.Store.ClaimRun(ctx, "run_1", clk.Now(), clk.Now().Add(time.Minute)); err != nil || !won {
		t.Fatal(won, err)
	}
	if st, _ := svc.RunStatus(ctx, alice.Key(), "run_1"); st.Status != approval.RunRunning {
		t.Fatalf("within its lease the run is %s", st.Status)
	}
	clk.Add(2 * time.Minute)
	st, _ := svc.RunStatus(ctx, alice.Key(), "run_1")
	if st.Status != approval.RunFailed || st.Error != approval.ErrResumeLost {
		t.Fatalf("after its lease the run is %+v", st)
	}
}

func TestService_AKindNoLongerServedFailsTheRun(t *testing.T) {
	svc, _, _, a := setup(t, approval.KindPassthrough)
	svc.Continuers = kinds{}
	ctx := context.Background()
	if _, err := svc.Decide(ctx, approval.DecideRequest{Principal: sue, ID: a.ID, Decision: "approve", ArgsSHA256: a.ArgsSHA256}); err != nil {
		t.Fatal(err)
	}
	svc.Wait()
	st, _ := svc.RunStatus(ctx, alice.Key(), "run_1")
	if st.Status != approval.RunFailed {
		t.Fatalf("run = %+v", st)
	}
}
