package httpapi

import (
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse/internal/session"
)

func TestSessionFull_CountsMessagesAndBytes(t *testing.T) {
	rt := &Runtime{SessionMaxMessages: 3, SessionMaxBytes: 100}
	small := []session.Message{{Role: "user", Content: "hi"}, {Role: "assistant", Content: "hello"}}
	if full := sessionFull(rt, small); full != "" {
		t.Errorf("two short messages: %q", full)
	}
	if full := sessionFull(rt, append(small, session.Message{Role: "user", Content: "x"})); !strings.Contains(full, "3 messages") {
		t.Errorf("three messages: %q", full)
	}
	big := []session.Message{{Role: "assistant", ToolCalls: []session.ToolCall{{ID: "c1", Name: "lookup", Arguments: strings.Repeat("a", 100)}}}}
	if full := sessionFull(rt, big); !strings.Contains(full, "bytes of history") {
		t.Errorf("tool call arguments over the byte bound: %q", full)
	}
	if full := sessionFull(&Runtime{}, append(small, big...)); full != "" {
		t.Errorf("no bounds set: %q", full)
	}
}
