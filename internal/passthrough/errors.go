package passthrough

import (
	"errors"
	"fmt"

	"github.com/gatehousehq/gatehouse/internal/agent"
	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/ids"
)

// Errors a pass-through request is refused with before anything reaches
// the model; the HTTP layer maps them.
var (
	ErrUnknownModel = errors.New("no pass-through model by that name")
	// ErrForbiddenModel means the caller lacks the model's permission.
	ErrForbiddenModel = errors.New("the caller may not use this model")
)

// refusal is an error refusing a request as its caller sent it. Complete
// records it (refuse) as an authz.decided deny: record fills the event's
// rule and reason, which the log keeps in clear — fixed text, configured
// names and gatehouse's own call ids only — and its content, which holds
// what the caller chose (names, ids, arguments, results) and is stored
// per audit.content.
type refusal interface {
	error
	record(ev *audit.Event)
}

// clearID is a call id as the log may keep it in clear: only an id of the
// shape gatehouse gives its calls, which carries no caller text.
func clearID(id string) string {
	if ids.Valid("call_", id) {
		return " (" + id + ")"
	}
	return ""
}

// UndeclaredToolError names a tool the request offered that is not
// declared with type: client.
type UndeclaredToolError struct{ Name string }

func (e *UndeclaredToolError) Error() string {
	return fmt.Sprintf("tool %q is not declared as a client tool (tools: with type: client)", agent.CutName(e.Name))
}

func (e *UndeclaredToolError) record(ev *audit.Event) {
	ev.Rule, ev.Reason = "client tools are declared", "the request offers a tool not declared as a client tool"
	ev.Content = map[string]string{"tool": e.Name}
}

// UnknownToolCallError names a call id in the history — a tool message's,
// or an assistant's tool call — that was not released to this caller.
type UnknownToolCallError struct{ ID string }

func (e *UnknownToolCallError) Error() string {
	return fmt.Sprintf("the messages name tool call id %q, which was not released to this caller", agent.CutName(e.ID))
}

func (e *UnknownToolCallError) record(ev *audit.Event) {
	// A replayed id of another caller's call is gatehouse's own: the log
	// keeps it in clear, so the replay can be traced to whose call it was.
	ev.Rule = "tool calls released to this caller"
	ev.Reason = "the messages name a tool call id not released to this caller" + clearID(e.ID)
	ev.Content = map[string]string{"call_id": agent.CutName(e.ID)}
}

// ToolCallMismatchError is an assistant tool call in the history that
// differs from the call released under its id: another tool name, or other
// arguments.
type ToolCallMismatchError struct {
	ID    string
	Field string // name | arguments
	// Name and Arguments are what the history says.
	Name, Arguments string
}

func (e *ToolCallMismatchError) Error() string {
	return fmt.Sprintf("the assistant's tool call %q differs in its %s from the call gatehouse released", agent.CutName(e.ID), e.Field)
}

func (e *ToolCallMismatchError) record(ev *audit.Event) {
	ev.Rule = "tool calls released to this caller"
	ev.Reason = "an assistant tool call in the messages differs in its " + e.Field + " from the released call" + clearID(e.ID)
	ev.Content = map[string]string{"call_id": e.ID, "tool": e.Name, "arguments": e.Arguments}
}

// ToolResultChangedError is a tool message giving a call another result
// than the one already recorded for it.
type ToolResultChangedError struct {
	ID     string
	Result string
}

func (e *ToolResultChangedError) Error() string {
	return fmt.Sprintf("tool message answers call %q with another result than the one recorded", agent.CutName(e.ID))
}

func (e *ToolResultChangedError) record(ev *audit.Event) {
	ev.Rule = "tool results are recorded once"
	ev.Reason = "a tool message changes the result already recorded for its call" + clearID(e.ID)
	ev.Content = map[string]string{"call_id": e.ID, "result": e.Result}
}

// InvalidRequestError is a request the pass-through cannot take as sent.
type InvalidRequestError struct {
	// Msg is the caller's message; Reason says the same without the
	// caller's text (for the log's clear fields), Name is that text.
	Msg, Reason, Name string
}

func (e *InvalidRequestError) Error() string { return e.Msg }

func (e *InvalidRequestError) record(ev *audit.Event) {
	ev.Rule, ev.Reason = "pass-through request", e.Reason
	if e.Name != "" {
		ev.Content = map[string]string{"tool": e.Name}
	}
}
