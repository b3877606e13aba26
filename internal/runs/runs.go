// Package runs is the front door every run passes, whichever way it came
// in (an agent's turn, a pass-through completion, one /mcp tools/call):
// admission against the bound on runs in flight, shared across config
// reloads; the run's id; and its first and last audit records. Each door
// then does only its own work between the two.
package runs

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/ids"
)

// ErrOverloaded: more runs in flight than the configured bound.
var ErrOverloaded = errors.New("too many runs in flight")

// InFlight counts runs in flight. One is shared by every Door of a server,
// so the bound holds across config reloads.
type InFlight struct{ n atomic.Int64 }

// Count is the number of runs in flight.
func (f *InFlight) Count() int64 { return f.n.Load() }

// Door admits runs. Its zero value admits without bound, counting in a
// counter of its own, on time.Now.
type Door struct {
	InFlight *InFlight
	// Max bounds the runs in flight (0: unbounded).
	Max int
	Now func() time.Time
}

// Run is one admitted run. Done must be called once it ends.
type Run struct {
	ID    string
	Start time.Time
	left  atomic.Bool
	f     *InFlight
}

// Admit reserves a place for a run and names it; ErrOverloaded when Max
// runs are in flight already.
func (d *Door) Admit() (*Run, error) {
	f := d.InFlight
	if f == nil {
		f = &InFlight{}
	}
	if n := f.n.Add(1); d.Max > 0 && n > int64(d.Max) {
		f.n.Add(-1)
		return nil, ErrOverloaded
	}
	return &Run{ID: ids.New("run_"), Start: d.now(), f: f}, nil
}

// Done ends the run's place in flight; calling it again does nothing.
func (r *Run) Done() {
	if r != nil && r.left.CompareAndSwap(false, true) {
		r.f.n.Add(-1)
	}
}

func (d *Door) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// Frame is what a run's first and last records say of it.
type Frame struct {
	// Resource is what ran: agent:NAME, model:NAME (the pass-through) or
	// tool:NAME (/mcp tools/call).
	Resource string
	Model    string
}

// Started is a run's first record (run.started, or run.resumed): base
// names the request, the run and the caller.
func Started(base audit.Event, f Frame, typ, reason string, content map[string]string) audit.Event {
	ev := base
	ev.Type, ev.Resource, ev.Model, ev.Reason, ev.Content = typ, f.Resource, f.Model, reason, content
	return ev
}

// End is how a run ended.
type End struct {
	// Type is run.finished, or run.paused for a run that waits for a person.
	Type            string
	Outcome, Reason string
	Model           string // when the run learnt it (the model that answered)
	Usage           *audit.Usage
	Content         map[string]string
}

// Finished is a run's last record, with its latency from start at now.
func Finished(base audit.Event, f Frame, start, now time.Time, e End) audit.Event {
	ev := base
	ev.Type, ev.Resource, ev.Model = e.Type, f.Resource, f.Model
	if ev.Type == "" {
		ev.Type = audit.TypeRunFinished
	}
	if e.Model != "" {
		ev.Model = e.Model
	}
	ev.LatencyMS = now.Sub(start).Milliseconds()
	ev.Outcome, ev.Reason, ev.Usage, ev.Content = e.Outcome, e.Reason, e.Usage, e.Content
	return ev
}
