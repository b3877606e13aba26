package passthrough_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/passthrough"
	"github.com/gatehousehq/gatehouse/internal/principal"
)

// released gets send_email released to p and returns the call as the
// client received it.
func released(t *testing.T, h *harness, p *principal.Principal, args string) llm.ToolCall {
	t.Helper()
	up := h.up.reply
	h.up.reply = proposes(call("up_1", "send_email", args))
	defer func() { h.up.reply = up }()
	res, err := h.svc.Complete(context.Background(), request(p, user("send it")))
	if err != nil || len(res.Message.ToolCalls) != 1 {
		t.Fatalf("release: %v, %+v", err, res)
	}
	return res.Message.ToolCalls[0]
}

// Every request refused with a 400 leaves its authorization decision and a
// record of the refusal, and reaches no model.
func TestComplete_RefusedRequestsAreRecorded(t *testing.T) {
	tests := []struct {
		name string
		// req builds the refused request; h has mallory's call released.
		req func(mallorys llm.ToolCall) passthrough.Request
		// inClear must appear in the refusal's clear fields.
		inClear string
	}{
		{"answering another caller's call id", func(m llm.ToolCall) passthrough.Request {
			return request(alice, user("send it"), llm.Message{Role: "assistant", ToolCalls: []llm.ToolCall{m}},
				llm.Message{Role: "tool", ToolCallID: m.ID, Content: "sent"})
		}, "call_"},
		{"tool_choice naming a removed tool", func(llm.ToolCall) passthrough.Request {
			r := request(alice, user("wire it"))
			r.Tools = append(r.Tools, passthrough.OfferedTool{Name: "wire_money"})
			r.Options.ToolChoice = &llm.ToolChoice{Function: "wire_money"}
			return r
		}, "tool_choice"},
		{"an undeclared tool", func(llm.ToolCall) passthrough.Request {
			r := request(alice, user("hi"))
			r.Tools = append(r.Tools, passthrough.OfferedTool{Name: "delete_everything"})
			return r
		}, "declared"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, answers("hello"))
			m := released(t, h, mallory, `{"to":"bob@bank.example"}`)
			asked := len(h.up.reqs)
			req := tt.req(m)
			req.RequestID, req.RunID = "req_refused", "run_refused"
			for i := range req.Before {
				req.Before[i].RequestID = "req_refused"
			}
			if _, err := h.svc.Complete(context.Background(), req); err == nil {
				t.Fatal("the request was not refused")
			}
			if len(h.up.reqs) != asked {
				t.Error("the refused request reached the model")
			}
			var decided, refusal *audit.Event
			for _, e := range h.audit.all() {
				if e.RequestID != "req_refused" || e.Type != audit.TypeAuthzDecided {
					continue
				}
				if e.Decision == audit.Allow {
					decided = &e
				} else {
					refusal = &e
				}
			}
			if decided == nil {
				t.Error("the request's authz.decided is not in the log")
			}
			if refusal == nil {
				t.Fatal("no record of the refusal")
			}
			if refusal.Resource != "model:gpt-test" || refusal.Subject != "alice" {
				t.Errorf("refusal %+v", refusal)
			}
			if clear := refusal.Rule + " " + refusal.Reason; !strings.Contains(clear, tt.inClear) {
				t.Errorf("refusal's rule and reason %q lack %q", clear, tt.inClear)
			}
			if tt.inClear == "call_" && !strings.Contains(refusal.Reason, m.ID) {
				t.Errorf("the replayed call id %s is not on the record: %+v", m.ID, refusal)
			}
		})
	}
}

// A malformed call id, of any size, is refused before the store is asked,
// and the log keeps only a cut of it.
func TestComplete_MalformedCallIDIsRefusedAndCut(t *testing.T) {
	h := newHarness(t, answers("hello"))
	long := "call_" + strings.Repeat("A", 10000)
	_, err := h.svc.Complete(context.Background(), request(alice, user("hi"), llm.Message{Role: "tool", ToolCallID: long, Content: "x"}))
	var unknown *passthrough.UnknownToolCallError
	if !errors.As(err, &unknown) {
		t.Fatalf("refused with %v", err)
	}
	for _, e := range h.audit.all() {
		if e.Decision == audit.Deny && (len(e.Content["call_id"]) > 80 || strings.Contains(e.Reason, "AAAA")) {
			t.Errorf("the log keeps the id whole: %q / %q", e.Reason, e.Content["call_id"])
		}
	}
	if len(h.up.reqs) != 0 {
		t.Error("the model was asked")
	}
}
