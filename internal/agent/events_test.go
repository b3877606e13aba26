package agent_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehousehq/gatehouse/internal/agent"
	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/llm/llmtest"
	"github.com/gatehousehq/gatehouse/internal/llm/openai"
	"github.com/gatehousehq/gatehouse/internal/tools"
)

// streamingModel streams the scripted answers word by word; between words
// it calls pause, when set, with the content sent so far.
type streamingModel struct {
	*scriptedModel
	pause   func(ctx context.Context, sent string) error
	streams int
}

func (m *streamingModel) Stream(ctx context.Context, req llm.Request, onDelta func(llm.Delta) error) (*llm.Response, error) {
	m.streams++
	resp, err := m.Complete(ctx, req)
	if err != nil {
		return nil, err
	}
	sent := ""
	for _, w := range strings.SplitAfter(resp.Message.Content, " ") {
		if w == "" {
			continue
		}
		if err := onDelta(llm.Delta{Content: w}); err != nil {
			return nil, err
		}
		sent += w
		if m.pause != nil {
			if err := m.pause(ctx, sent); err != nil {
				return nil, err
			}
		}
	}
	return resp, nil
}

// eventLog is an Events sink that keeps what it is given.
type eventLog struct {
	mu     sync.Mutex
	events []agent.Event
	// on, when set, sees each event as it arrives.
	on func(agent.Event)
}

func (l *eventLog) add(ev agent.Event) {
	l.mu.Lock()
	l.events = append(l.events, ev)
	l.mu.Unlock()
	if l.on != nil {
		l.on(ev)
	}
}

// summary is each event as "type call/decision/status|content|outcome".
func (l *eventLog) summary() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, ev := range l.events {
		s := string(ev.Type)
		switch {
		case ev.Type == agent.EventToolDecided:
			s += " " + ev.Call.ID + " " + ev.Call.Decision + " (" + ev.Call.Rule + ")"
		case ev.Type == agent.EventToolFinished:
			s += " " + ev.Call.ID + " " + ev.Call.Status
		case ev.Type == agent.EventMessageDelta:
			s += " " + ev.Content
		case ev.Type == agent.EventRunFinished:
			s += " " + ev.Outcome
		}
		out = append(out, s)
	}
	return out
}

func TestRun_EventsArriveInOrderAsTheyHappen(t *testing.T) {
	calls := []llm.ToolCall{{ID: "c1", Name: "lookup", Arguments: `{"id":"X"}`}, {ID: "c2", Name: "admin_only", Arguments: `{"id":"X"}`}}
	scripted := &scriptedModel{turn: func(_ context.Context, n int, _ llm.Request) (*llm.Response, error) {
		if n == 0 {
			return &llm.Response{Model: "m-1", Message: llm.Message{Role: "assistant", Content: "Let me look.", ToolCalls: calls}}, nil
		}
		return &llm.Response{Model: "m-1", Message: llm.Message{Role: "assistant", Content: "X is fine."}}, nil
	}}
	// The model does not go on before the listener has its first words:
	// the content reaches it during the turn, not after.
	gotFirst := make(chan struct{})
	model := &streamingModel{scriptedModel: scripted, pause: func(ctx context.Context, sent string) error {
		if sent != "X " {
			return nil
		}
		select {
		case <-gotFirst:
			return nil
		case <-time.After(5 * time.Second):
			return errors.New("the first words were not delivered during the turn")
		}
	}}
	events := &eventLog{on: func(ev agent.Event) {
		if ev.Type == agent.EventMessageDelta && ev.Content == "X " {
			close(gotFirst)
		}
	}}
	limits := generous
	limits.MaxParallelTools = 1 // one call after the other: a stable order
	sink := &recordingSink{}
	res, err := newRunner(model, sink).Run(context.Background(), agent.RunRequest{
		Agent: newAgent(t, limits, newTool("lookup", echo), newTool("admin_only", echo)), Principal: alice,
		Message: "hello", RequestID: "req_1", RunID: "run_1", Events: events.add})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"run.started",
		"message.delta Let ", "message.delta me ", "message.delta look.",
		"tool.decided c1 allow (role:agent grants lookup.use)",
		"tool.finished c1 ok",
		"tool.decided c2 deny (tool not offered)",
		"message.delta X ", "message.delta is ", "message.delta fine.",
		"run.finished ok",
	}
	if diff := cmp.Diff(want, events.summary()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if res.Response != "X is fine." {
		t.Errorf("response %q", res.Response)
	}
	for _, ev := range events.events {
		if ev.RunID != "run_1" {
			t.Errorf("event %s has run id %q", ev.Type, ev.RunID)
		}
		if ev.Type == agent.EventMessageDelta && strings.Contains("Let me look.", ev.Content) != (ev.Turn == 0) {
			t.Errorf("delta %q in turn %d", ev.Content, ev.Turn)
		}
	}
	// What the events say was decided is what the audit log holds.
	var decided []string
	for _, b := range sink.briefs() {
		if b.Type == audit.TypeToolDecided {
			decided = append(decided, b.Decision)
		}
	}
	if diff := cmp.Diff([]string{"allow", "deny"}, decided); diff != "" {
		t.Errorf("recorded decisions (-want +got):\n%s", diff)
	}
}

// Without a listener a run is what it always was: whole model turns.
func TestRun_WithoutEventsTheModelIsNotStreamed(t *testing.T) {
	model := &streamingModel{scriptedModel: callsThenAnswer(llm.ToolCall{ID: "c1", Name: "lookup", Arguments: `{"id":"X"}`})}
	if _, err := run(t, newRunner(model, &recordingSink{}), newAgent(t, generous, newTool("lookup", echo))); err != nil {
		t.Fatal(err)
	}
	if model.streams != 0 || len(model.requests()) != 2 {
		t.Errorf("%d streamed turns of %d; want none", model.streams, len(model.requests()))
	}
}

// A model that cannot stream still feeds the listener: its answer arrives
// as one delta.
func TestRun_EventsFromAModelThatDoesNotStream(t *testing.T) {
	events := &eventLog{}
	_, err := newRunner(callsThenAnswer(), &recordingSink{}).Run(context.Background(), agent.RunRequest{
		Agent: newAgent(t, generous), Principal: alice, Message: "hi", RunID: "run_1", Events: events.add})
	if err != nil {
		t.Fatal(err)
	}
	// callsThenAnswer's first turn asks for no calls: its empty content is
	// the answer, so no delta.
	if diff := cmp.Diff([]string{"run.started", "run.finished ok"}, events.summary()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// waitForGoroutines polls until no more goroutines run than before.
func waitForGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before the run:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A caller that goes away ends the run promptly: what had been decided
// stays recorded, the run's end is recorded as cancelled (with a context of
// its own, as the real log refuses a cancelled one), and nothing is left
// running.
func TestRun_CancelledRunIsRecordedAsCancelled(t *testing.T) {
	tests := []struct {
		name string
		// model and tool call cancel once the run is busy.
		model      func(cancel func()) llm.Model
		tool       func(cancel func()) func(context.Context, tools.Args) (any, error)
		wantEvents []string
	}{
		{
			name: "while a tool runs",
			model: func(func()) llm.Model {
				return &streamingModel{scriptedModel: callsThenAnswer(llm.ToolCall{ID: "c1", Name: "lookup", Arguments: `{"id":"X"}`})}
			},
			tool: func(cancel func()) func(context.Context, tools.Args) (any, error) {
				return func(ctx context.Context, _ tools.Args) (any, error) {
					cancel()
					<-ctx.Done()
					return nil, ctx.Err()
				}
			},
			wantEvents: []string{audit.TypeRunStarted, audit.TypeToolDecided, audit.TypeToolFinished, audit.TypeRunFinished},
		},
		{
			name: "while the model streams",
			model: func(cancel func()) llm.Model {
				scripted := &scriptedModel{turn: func(context.Context, int, llm.Request) (*llm.Response, error) {
					return &llm.Response{Message: llm.Message{Role: "assistant", Content: "one two three"}}, nil
				}}
				return &streamingModel{scriptedModel: scripted, pause: func(ctx context.Context, _ string) error {
					cancel()
					<-ctx.Done()
					return ctx.Err()
				}}
			},
			tool:       func(func()) func(context.Context, tools.Args) (any, error) { return echo },
			wantEvents: []string{audit.TypeRunStarted, audit.TypeRunFinished},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			sink := &ctxSink{}
			events := &eventLog{}
			start := time.Now()
			_, err := newRunner(tc.model(cancel), sink).Run(ctx, agent.RunRequest{
				Agent: newAgent(t, generous, newTool("lookup", tc.tool(cancel))), Principal: alice,
				Message: "hello", RequestID: "req_1", RunID: "run_1", Events: events.add})
			if !errors.Is(err, agent.ErrRunCancelled) {
				t.Fatalf("err = %v; want ErrRunCancelled", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("the run took %s to end after its caller went away", d)
			}
			var got []string
			for _, b := range sink.briefs() {
				got = append(got, b.Type)
			}
			if diff := cmp.Diff(tc.wantEvents, got); diff != "" {
				t.Errorf("recorded events (-want +got):\n%s", diff)
			}
			b := sink.briefs()
			if last := b[len(b)-1]; last.Outcome != agent.OutcomeCancelled {
				t.Errorf("run.finished outcome %q; want cancelled", last.Outcome)
			}
			s := events.summary()
			if s[len(s)-1] != "run.finished cancelled" {
				t.Errorf("last event %q; want run.finished cancelled", s[len(s)-1])
			}
			waitForGoroutines(t, before)
		})
	}
}

// The same through the real client and a streaming upstream: the caller
// goes away mid-answer, the upstream request is abandoned, nothing is left.
func TestRun_CancelledMidStreamLeavesNoGoroutine(t *testing.T) {
	srv, url := llmtest.Start(t, func(int, *llmtest.Request) llmtest.Reply {
		return llmtest.Reply{ChunkSeq: llmtest.Repeat(1000, "word "), ChunkDelay: 20 * time.Millisecond}
	})
	model, err := openai.New(openai.Config{BaseURL: url, APIKey: "sk-test", Model: "gpt-test", Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	deltas := 0
	events := &eventLog{on: func(ev agent.Event) {
		if ev.Type == agent.EventMessageDelta {
			if deltas++; deltas == 5 {
				cancel()
			}
		}
	}}
	sink := &ctxSink{}
	start := time.Now()
	_, err = newRunner(model, sink).Run(ctx, agent.RunRequest{Agent: newAgent(t, generous), Principal: alice,
		Message: "talk", RequestID: "req_1", RunID: "run_1", Events: events.add})
	if !errors.Is(err, agent.ErrRunCancelled) {
		t.Fatalf("err = %v; want ErrRunCancelled", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the run took %s; the upstream would have taken 20s", d)
	}
	if deltas > 7 {
		t.Errorf("%d deltas; the stream went on after the cancellation", deltas)
	}
	b := sink.briefs()
	if last := b[len(b)-1]; last.Type != audit.TypeRunFinished || last.Outcome != agent.OutcomeCancelled {
		t.Errorf("last recorded event %+v; want run.finished cancelled", last)
	}
	if srv.Count() != 1 {
		t.Errorf("upstream requests = %d; a cancelled stream is not retried", srv.Count())
	}
	waitForGoroutines(t, before)
}
