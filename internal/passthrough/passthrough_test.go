package passthrough_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/authz"
	"github.com/gatehousehq/gatehouse/internal/passthrough"
)

// A refused turn's allowed calls never reach the client: nothing may call
// them released, in the answer or in the store.
func TestComplete_WithheldCallsOfARefusedTurnAreNotReleased(t *testing.T) {
	for _, retries := range []int{0, 1} {
		h := newHarness(t, proposes(call("up_1", "send_email", `{"to":"bob@bank.example"}`),
			call("up_2", "send_email", `{"to":"eve@evil.example"}`)))
		h.svc.MaxRetries = retries
		res, err := h.svc.Complete(context.Background(), request(alice, user("mail bob and eve")))
		if err != nil {
			t.Fatal(err)
		}
		if !res.Refused || len(res.Message.ToolCalls) != 0 {
			t.Fatalf("retries %d: refused %v, calls %v", retries, res.Refused, res.Message.ToolCalls)
		}
		if len(res.Decisions) != 2*(retries+1) {
			t.Fatalf("retries %d: %d decisions, want %d", retries, len(res.Decisions), 2*(retries+1))
		}
		for _, d := range res.Decisions {
			want := "denied"
			if d.Decision == audit.Allow {
				want = passthrough.StatusNotReleased
			}
			if d.Status != want {
				t.Errorf("retries %d: call %s (%s) has status %q, want %q", retries, d.ID, d.Decision, d.Status, want)
			}
			if got, err := h.calls.Lookup(context.Background(), alice.Key(), []string{d.ID}); err != nil || len(got) != 0 {
				t.Errorf("retries %d: the store holds %v (%v) as released", retries, got, err)
			}
		}
	}
}

// A turn held for approval releases nothing yet: its calls that need no
// approval are not released either until the approvals are decided.
func TestComplete_CallsOfAHeldTurnAreNotReleasedYet(t *testing.T) {
	h := newHarness(t, proposes(call("up_1", "send_email", `{"to":"bob@bank.example"}`),
		call("up_2", "wire_money", `{"to":"DE00"}`)))
	h.svc.Perms = authz.NewPermissions(map[string][]string{"clerk": {"llm.use", "email.send", "payments.write"}}, nil)
	h.svc.Tools["wire_money"].Policy.Approval = &authz.ApprovalRule{Approvers: []string{"supervisor"}, TTL: time.Hour}
	h.svc.Approvals = h.calls
	req := request(alice, user("mail bob and wire"))
	req.Tools = append(req.Tools, passthrough.OfferedTool{Name: "wire_money"})
	res, err := h.svc.Complete(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Approvals) != 1 || len(res.Message.ToolCalls) != 0 {
		t.Fatalf("approvals %v, calls %v", res.Approvals, res.Message.ToolCalls)
	}
	got := map[string]string{}
	for _, d := range res.Decisions {
		got[d.Name] = d.Status
	}
	want := map[string]string{"send_email": passthrough.StatusNotReleased, "wire_money": "awaiting_approval"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	for _, e := range h.audit.all() {
		if e.Type == audit.TypeApprovalRequested && e.Outcome != "pending" {
			t.Errorf("approval.requested changed: %+v", e)
		}
	}
}
