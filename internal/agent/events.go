package agent

import (
	"errors"
	"sync"
)

// EventType names a step of a run as the run's observers see it (the
// /v1/chat stream, the OpenAI-compatible stream).
type EventType string

// The steps of a run, in the order they happen.
const (
	EventRunStarted   EventType = "run.started"   // durable in the audit log
	EventMessageDelta EventType = "message.delta" // a piece of the model's content
	EventToolDecided  EventType = "tool.decided"  // durable; the tool runs only after
	EventToolFinished EventType = "tool.finished" // a tool that ran has returned
	EventRunFinished  EventType = "run.finished"  // durable; the last event
)

// Run outcomes, as run.finished records them.
const (
	OutcomeOK        = "ok"
	OutcomeError     = "error"
	OutcomeCancelled = "cancelled" // the caller went away (its context was cancelled)
)

// ErrRunCancelled means the run's caller went away before the run ended;
// what had been decided is recorded, and the run's end as cancelled.
var ErrRunCancelled = errors.New("run cancelled: the caller went away")

// Event is one step of a run, delivered to RunRequest.Events as it happens.
type Event struct {
	Type  EventType
	RunID string
	// Turn is the model turn (0-based) a message.delta belongs to: a turn
	// that asks for tools may say something before the final answer's turn.
	Turn int
	// Content is a message.delta's text.
	Content string
	// Call is the tool call of tool.decided (its decision, rule and reason,
	// no status yet) and tool.finished (its status).
	Call *ToolCallRecord
	// Outcome is run.finished's (ok | error | cancelled); Reason says why
	// a run did not end ok.
	Outcome string
	Reason  string
}

// emitter hands a run's events to its sink one at a time: tool calls of a
// round finish on their own goroutines, and the sink need not be safe for
// concurrent use.
type emitter struct {
	mu   sync.Mutex
	sink func(Event) // nil: nobody listens
	run  string
}

func (e *emitter) emit(ev Event) {
	if e == nil || e.sink == nil {
		return
	}
	ev.RunID = e.run
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sink(ev)
}
