package chat

import (
	"time"

	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/session"
)

// FromSession turns stored history into the model's messages.
func FromSession(ms []session.Message) []llm.Message {
	out := make([]llm.Message, 0, len(ms))
	for _, m := range ms {
		lm := llm.Message{Role: m.Role, Content: m.Content, ToolCallID: m.ToolCallID}
		for _, tc := range m.ToolCalls {
			lm.ToolCalls = append(lm.ToolCalls, llm.ToolCall{ID: tc.ID, Name: tc.Name, Arguments: tc.Arguments})
		}
		out = append(out, lm)
	}
	return out
}

// ToSession turns a run's messages into history to store, stamped now.
func ToSession(ms []llm.Message) []session.Message {
	now := time.Now().UTC()
	out := make([]session.Message, 0, len(ms))
	for _, m := range ms {
		sm := session.Message{Role: m.Role, Content: m.Content, ToolCallID: m.ToolCallID, Time: now}
		for _, tc := range m.ToolCalls {
			sm.ToolCalls = append(sm.ToolCalls, session.ToolCall{ID: tc.ID, Name: tc.Name, Arguments: tc.Arguments})
		}
		out = append(out, sm)
	}
	return out
}
