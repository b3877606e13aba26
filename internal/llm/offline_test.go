package llm_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehousehq/gatehouse/internal/llm"
)

const offlineMark = "[offline demo model: no LLM is connected]"

var demoTools = []llm.ToolDef{
	{Name: "claims_status", Parameters: json.RawMessage(`{"type":"object"}`)},
	{Name: "payments_lookup", Parameters: json.RawMessage(`{"type":"object"}`)},
	{Name: "policy_update", Parameters: json.RawMessage(`{"type":"object"}`)},
}

func userTurn(text string, tools []llm.ToolDef) llm.Request {
	return llm.Request{Messages: []llm.Message{{Role: "system", Content: "be helpful"}, {Role: "user", Content: text}}, Tools: tools}
}

func TestOffline_CallsTheDemoToolANameCallsFor(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []llm.ToolCall
	}{
		{"claim", "What is the status of claim CLM-1001?",
			[]llm.ToolCall{{ID: "call_2_1", Name: "claims_status", Arguments: `{"claim_id":"CLM-1001"}`}}},
		{"customer", "Show payments for C-100 please",
			[]llm.ToolCall{{ID: "call_2_1", Name: "payments_lookup", Arguments: `{"customer_id":"C-100"}`}}},
		{"claim and customer, repeats once", "CLM-1001 and C-200 and CLM-1001 again",
			[]llm.ToolCall{
				{ID: "call_2_1", Name: "claims_status", Arguments: `{"claim_id":"CLM-1001"}`},
				{ID: "call_2_2", Name: "payments_lookup", Arguments: `{"customer_id":"C-200"}`},
			}},
		{"set a policy status", "set POL-500 status to suspended",
			[]llm.ToolCall{{ID: "call_2_1", Name: "policy_update", Arguments: `{"field":"status","policy_id":"POL-500","value":"suspended"}`}}},
		{"full stop is not part of the value", "Please set POL-500 status to active.",
			[]llm.ToolCall{{ID: "call_2_1", Name: "policy_update", Arguments: `{"field":"status","policy_id":"POL-500","value":"active"}`}}},
		{"set a premium", "Please set POL-501 premium to 1300.50",
			[]llm.ToolCall{{ID: "call_2_1", Name: "policy_update", Arguments: `{"field":"premium","policy_id":"POL-501","value":"1300.50"}`}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := llm.Offline{}.Complete(context.Background(), userTurn(tc.text, demoTools))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, resp.Message.ToolCalls); diff != "" {
				t.Errorf("tool calls (-want +got):\n%s", diff)
			}
			if resp.Model != llm.OfflineModelName || resp.Message.Role != "assistant" {
				t.Errorf("model %q role %q", resp.Model, resp.Message.Role)
			}
		})
	}
}

// Only an instruction to set a field changes a policy; mentioning a policy,
// or asking about its status, never produces a write.
func TestOffline_PolicyUpdateOnlyWhenAskedToSet(t *testing.T) {
	for _, text := range []string{
		"What about POL-500?",
		"cancel POL-500",
		"Has the status of POL-500 changed to cancelled?",
		"What is the status of POL-500? I would like to know.",
	} {
		t.Run(text, func(t *testing.T) {
			resp, err := llm.Offline{}.Complete(context.Background(), userTurn(text, demoTools))
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Message.ToolCalls) != 0 {
				t.Fatalf("tool calls %+v; want none", resp.Message.ToolCalls)
			}
			if !strings.HasPrefix(resp.Message.Content, offlineMark) {
				t.Errorf("answer %q does not say it is offline", resp.Message.Content)
			}
		})
	}
}

func TestOffline_RefusesToolsNotOffered(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		tools   []llm.ToolDef
		want    []string // in the answer
		wantOne string   // a tool call name that is still made, if any
	}{
		{"claim without claims_status", "CLM-1001?", nil, []string{"not permitted", "claims_status"}, ""},
		{"policy without policy_update", "set POL-500 status to active", demoTools[:2], []string{"not permitted", "policy_update"}, ""},
		{"offered tool still called", "CLM-1001 and C-100", demoTools[1:2], nil, "payments_lookup"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := llm.Offline{}.Complete(context.Background(), userTurn(tc.text, tc.tools))
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantOne != "" {
				if len(resp.Message.ToolCalls) != 1 || resp.Message.ToolCalls[0].Name != tc.wantOne {
					t.Fatalf("tool calls %+v; want one call of %s", resp.Message.ToolCalls, tc.wantOne)
				}
				return
			}
			if len(resp.Message.ToolCalls) != 0 {
				t.Fatalf("called %+v, which was not offered", resp.Message.ToolCalls)
			}
			for _, s := range append([]string{offlineMark}, tc.want...) {
				if !strings.Contains(resp.Message.Content, s) {
					t.Errorf("answer %q does not contain %q", resp.Message.Content, s)
				}
			}
		})
	}
}

func TestOffline_SummarisesTheLatestToolRound(t *testing.T) {
	req := llm.Request{Tools: demoTools, Messages: []llm.Message{
		{Role: "user", Content: "CLM-1001"},
		{Role: "assistant", ToolCalls: []llm.ToolCall{{ID: "old", Name: "claims_status"}}},
		{Role: "tool", ToolCallID: "old", Content: `{"stale":true}`},
		{Role: "user", Content: "CLM-1001 and C-100"},
		{Role: "assistant", ToolCalls: []llm.ToolCall{{ID: "a", Name: "claims_status"}, {ID: "b", Name: "payments_lookup"}}},
		{Role: "tool", ToolCallID: "a", Content: `{"status":"in_review"}`},
		{Role: "tool", ToolCallID: "b", Content: `{"error":"not_authorized"}`},
	}}
	resp, err := llm.Offline{}.Complete(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	want := offlineMark + " Here is what the tools returned:\n- claims_status: {\"status\":\"in_review\"}\n- payments_lookup: {\"error\":\"not_authorized\"}"
	if diff := cmp.Diff(want, resp.Message.Content); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	if len(resp.Message.ToolCalls) != 0 {
		t.Errorf("summary turn made tool calls: %+v", resp.Message.ToolCalls)
	}
}

func TestOffline_EveryAnswerSaysItIsOfflineAndIsDeterministic(t *testing.T) {
	for _, text := range []string{"hi", "", "CLM-1", "POL-500", strings.Repeat("x", 500), "set POL-500 status to active"} {
		req := userTurn(text, nil)
		a, err := llm.Offline{}.Complete(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(a.Message.Content, offlineMark) {
			t.Errorf("answer to %q = %q; does not say it is offline", text, a.Message.Content)
		}
		for _, tools := range [][]llm.ToolDef{nil, demoTools} {
			req := userTurn(text, tools)
			first, _ := llm.Offline{}.Complete(context.Background(), req)
			second, _ := llm.Offline{}.Complete(context.Background(), req)
			if diff := cmp.Diff(first, second); diff != "" {
				t.Errorf("two answers to %q differ:\n%s", text, diff)
			}
		}
	}
}
