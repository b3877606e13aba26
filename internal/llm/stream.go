package llm

import "context"

// Delta is a piece of a model's turn as it arrives.
type Delta struct {
	Content   string
	ToolCalls []ToolCallDelta
}

// ToolCallDelta is a fragment of one tool call of the turn. Index says which
// call it belongs to; ID and Name come once, usually in a call's first
// fragment, and Arguments are pieces of JSON text to be concatenated. A
// pass-through holds them until the turn is complete and every call in it is
// allowed.
type ToolCallDelta struct {
	Index     int
	ID        string
	Name      string
	Arguments string
}

// Streamer is a Model that can deliver a turn as it arrives.
type Streamer interface {
	Model
	// Stream performs one turn like Complete, calling onDelta with each
	// piece in order, on the calling goroutine, as it arrives. The Response
	// is the assembled turn: the content and tool calls the deltas carried,
	// and the usage. An error from onDelta ends the turn and is returned as
	// it is. A turn that fails after a delta was delivered is not retried:
	// the caller has already passed the delta on.
	Stream(ctx context.Context, req Request, onDelta func(Delta) error) (*Response, error)
}

// Stream performs one turn with m, streamed when m is a Streamer. A model
// that does not stream delivers its whole answer as one delta.
func Stream(ctx context.Context, m Model, req Request, onDelta func(Delta) error) (*Response, error) {
	if s, ok := m.(Streamer); ok {
		return s.Stream(ctx, req, onDelta)
	}
	resp, err := m.Complete(ctx, req)
	if err != nil {
		return nil, err
	}
	if d := WholeDelta(resp.Message); d.Content != "" || len(d.ToolCalls) > 0 {
		if err := onDelta(d); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// WholeDelta is a complete message as one delta.
func WholeDelta(m Message) Delta {
	d := Delta{Content: m.Content}
	for i, tc := range m.ToolCalls {
		d.ToolCalls = append(d.ToolCalls, ToolCallDelta{Index: i, ID: tc.ID, Name: tc.Name, Arguments: tc.Arguments})
	}
	return d
}
