package metrics

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse/internal/audit"
)

// sink counts what the audit log records: commits and their latency, and
// from the events made durable, runs and tool decisions. Counting from the
// log means a decision is counted once it took effect (a decision that
// could not be recorded was not acted on).
type sink struct {
	next audit.Sink
	m    *Metrics
}

// AuditSink returns next, measured. A nil *Metrics returns next itself.
func (m *Metrics) AuditSink(next audit.Sink) audit.Sink {
	if m == nil {
		return next
	}
	return sink{next: next, m: m}
}

func (s sink) Record(ctx context.Context, evs ...audit.Event) error {
	start := time.Now()
	err := s.next.Record(ctx, evs...)
	s.m.auditCommit.Observe(time.Since(start).Seconds())
	if err != nil {
		if errors.Is(err, audit.ErrUnavailable) {
			s.m.auditDown.Inc()
		}
		return err
	}
	for i := range evs {
		s.m.event(&evs[i])
	}
	return nil
}

// event counts one durable event. Only the event's bounded fields are
// read: type, decision, outcome, latency and a resource whose name part
// comes from config.
func (m *Metrics) event(ev *audit.Event) {
	switch ev.Type {
	case audit.TypeToolDecided:
		m.toolDecisions.WithLabelValues(toolLabel(ev.Resource), label(ev.Decision)).Inc()
	case audit.TypeRunFinished:
		agent, outcome := runLabel(ev.Resource), label(ev.Outcome)
		m.runs.WithLabelValues(agent, outcome).Inc()
		m.runDuration.WithLabelValues(agent, outcome).Observe(float64(ev.LatencyMS) / 1000)
	}
}

// toolLabel is the tool of a tool event's resource, "tool:NAME"; a call
// to a tool not in config has the resource tool:unknown or tool:(unknown).
func toolLabel(resource string) string {
	name, ok := strings.CutPrefix(resource, "tool:")
	if !ok || name == "(unknown)" {
		return "unknown"
	}
	return label(name)
}

// runLabel is the agent of a run's resource: "agent:NAME", or
// "model:NAME" for a pass-through run (passthrough:NAME).
func runLabel(resource string) string {
	if name, ok := strings.CutPrefix(resource, "agent:"); ok {
		return label(name)
	}
	if name, ok := strings.CutPrefix(resource, "model:"); ok {
		return label("passthrough:" + name)
	}
	return "unknown"
}
