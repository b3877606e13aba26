package metrics

import (
	"context"
	"time"

	"github.com/gatehousehq/gatehouse/internal/llm"
)

// model measures each model request.
type model struct {
	next llm.Model
	m    *Metrics
	// name labels a request that names no model (the configured default);
	// known are the model names config allows as labels.
	name  string
	known map[string]bool
}

// Model returns next, measured: latency, errors and tokens by model.
// Requests are labelled with their model when it is one of known (the
// names config holds), the default name when they name none, and
// "other" otherwise. A nil *Metrics returns next itself.
func (m *Metrics) Model(next llm.Model, defaultName string, known []string) llm.Model {
	if m == nil {
		return next
	}
	mm := &model{next: next, m: m, name: defaultName, known: map[string]bool{defaultName: true}}
	for _, k := range known {
		mm.known[k] = true
	}
	return mm
}

func (m *model) Name() string { return m.next.Name() }

func (m *model) Complete(ctx context.Context, req llm.Request) (*llm.Response, error) {
	start := time.Now()
	resp, err := m.next.Complete(ctx, req)
	m.observe(req, start, resp, err)
	return resp, err
}

// Stream keeps the wrapped model's streaming (llm.Streamer).
func (m *model) Stream(ctx context.Context, req llm.Request, onDelta func(llm.Delta) error) (*llm.Response, error) {
	start := time.Now()
	resp, err := llm.Stream(ctx, m.next, req, onDelta)
	m.observe(req, start, resp, err)
	return resp, err
}

func (m *model) observe(req llm.Request, start time.Time, resp *llm.Response, err error) {
	name := req.Model
	switch {
	case name == "":
		name = m.name
	case !m.known[name]:
		name = "other"
	}
	name = label(name)
	m.m.modelDuration.WithLabelValues(name).Observe(time.Since(start).Seconds())
	if err != nil {
		m.m.modelErrors.WithLabelValues(name).Inc()
	}
	if resp != nil {
		m.m.modelTokens.WithLabelValues(name, "prompt").Add(float64(resp.Usage.PromptTokens))
		m.m.modelTokens.WithLabelValues(name, "completion").Add(float64(resp.Usage.CompletionTokens))
	}
}

var (
	_ llm.Model    = (*model)(nil)
	_ llm.Streamer = (*model)(nil)
)
