package httpapi

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/openaiwire"
)

// Items become the conversation the upstream's Chat Completions expects:
// calls join the assistant turn before them, outputs are tool messages,
// reasoning is not forwarded; and an answer's items read back as the turn.
func TestInputMessages_TranslateItemsToChatTurns(t *testing.T) {
	items := []openaiwire.InputItem{
		{Type: "message", Role: "user", Text: "mail bob and ann"},
		{Type: "reasoning"},
		{Type: "message", Role: "assistant", Text: "Sending."},
		{Type: "function_call", CallID: "call_1", Name: "send_email", Arguments: `{"to":"bob"}`},
		{Type: "function_call", CallID: "call_2", Name: "send_email", Arguments: `{"to":"ann"}`},
		{Type: "function_call_output", CallID: "call_1", Text: "sent"},
		{Type: "function_call_output", CallID: "call_2", Text: "sent"},
		{Type: "function_call", CallID: "call_3", Name: "send_email", Arguments: `{}`},
	}
	want := []llm.Message{
		{Role: "user", Content: "mail bob and ann"},
		{Role: "assistant", Content: "Sending.", ToolCalls: []llm.ToolCall{{ID: "call_1", Name: "send_email", Arguments: `{"to":"bob"}`}, {ID: "call_2", Name: "send_email", Arguments: `{"to":"ann"}`}}},
		{Role: "tool", ToolCallID: "call_1", Content: "sent"},
		{Role: "tool", ToolCallID: "call_2", Content: "sent"},
		{Role: "assistant", ToolCalls: []llm.ToolCall{{ID: "call_3", Name: "send_email", Arguments: `{}`}}},
	}
	if diff := cmp.Diff(want, inputMessages(items)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	turn := want[1]
	if diff := cmp.Diff(turn, answerOf(outputItems(turn))); diff != "" {
		t.Errorf("an answer's items read back (-want +got):\n%s", diff)
	}
}
