// Package passthrough is governed pass-through: a client-side agent's chat
// completion goes to the upstream model, but only with the tools the caller
// may use, and every tool call the model proposes is authorized — permission
// and condition over strictly decoded arguments — and recorded durably
// before the client receives it. A refused call never reaches the client.
package passthrough

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse/internal/agent"
	"github.com/gatehousehq/gatehouse/internal/approval"
	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/authz"
	"github.com/gatehousehq/gatehouse/internal/dlp"
	"github.com/gatehousehq/gatehouse/internal/gate"
	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/principal"
	"github.com/gatehousehq/gatehouse/internal/runs"
)

// Model is a pass-through model as configured (passthrough.models).
type Model struct {
	// Name is what clients ask for; Upstream is the model id sent upstream
	// (Name when empty).
	Name, Upstream string
	Permission     string
	// HostedTools are the tool types the provider runs itself that a
	// Responses request may name (passthrough.models.NAME.hosted_tools):
	// accepted, and not forwarded to a Chat Completions upstream.
	HostedTools []string
}

// Released is a tool call released to a client.
type Released struct {
	ID    string
	Owner string // principal.Key of the caller it was released to
	Tool  string
	RunID string
	// ArgsSHA256 is ArgumentsHash of the arguments as released: the
	// client's history must carry the same call.
	ArgsSHA256 string
	Time       time.Time
	// Reported is set once a tool message answering it was recorded, and
	// ResultSHA256 is then ResultHash of that first result.
	Reported     bool
	ResultSHA256 string
}

// Report is a tool message's answer to a released call.
type Report struct {
	ID           string
	ResultSHA256 string
}

// CallStore keeps the tool calls released to callers, so a result sent
// back later — to any replica — is accepted only from the caller the call
// was released to, for the call as released, and only as first recorded.
type CallStore interface {
	// Release stores calls (their ids are unique across callers).
	Release(ctx context.Context, calls []Released) error
	// Lookup returns the calls among ids released to owner; ids released to
	// someone else, or never, are absent.
	Lookup(ctx context.Context, owner string, ids []string) (map[string]Released, error)
	// MarkReported marks owner's calls as answered with their results'
	// hashes and returns the ids it marked now. A call marked before keeps
	// its first result: of concurrent callers, the first to commit wins.
	MarkReported(ctx context.Context, owner string, reports []Report) ([]string, error)
}

// Upstream is the model a pass-through request goes to. onContent receives
// the answer's text as it arrives (tool-call fragments are not passed: they
// are held until the whole turn is decided); the assembled turn is returned.
// With onContent nil the turn is asked for whole, not streamed.
type Upstream interface {
	Stream(ctx context.Context, req llm.Request, onContent func(string) error) (*llm.Response, error)
}

// Service governs pass-through requests. It is safe for concurrent use.
type Service struct {
	Perms *authz.Permissions
	// Tools are the client tools (type: client) by name.
	Tools          map[string]*agent.Tool
	Models         map[string]Model
	DropUndeclared bool
	MaxRetries     int
	Upstream       Upstream
	Calls          CallStore
	Audit          audit.Sink
	Now            func() time.Time
	// NewCallID returns a fresh id for a call the model proposed.
	NewCallID func() string
	// Approvals keeps turns held for approval (client tools with
	// approval:); nil: such a turn fails.
	Approvals approval.Store
	// Gate decides each proposed call (nil: a gate over Perms and Now).
	Gate *gate.Gate
	// Data, when set, protects the client's messages before the model, and
	// the model's answer before the client; released calls get the values
	// behind their tokens.
	Data *dlp.Protector
}

// OfferedTool is a tool as the client's request offers it.
type OfferedTool struct {
	Name        string
	Description string
	Parameters  json.RawMessage
}

// Request is one pass-through chat completion.
type Request struct {
	Principal *principal.Principal
	Model     string
	Messages  []llm.Message
	Tools     []OfferedTool
	Options   llm.Options
	RequestID string
	RunID     string
	// Before are events to make durable with the request's first record
	// (the endpoint's authorization decision).
	Before []audit.Event
	// OnContent, when set, receives the answer's text as it arrives.
	OnContent func(string) error
	// Door is the way the request came in: gate.DoorPassthrough (Chat
	// Completions) when zero, or gate.DoorResponses.
	Door gate.Door
}

// door is the request's door, gate.DoorPassthrough by default.
func (r Request) door() gate.Door {
	if r.Door == (gate.Door{}) {
		return gate.DoorPassthrough
	}
	return r.Door
}

// Result is what the client receives.
type Result struct {
	Message      llm.Message
	FinishReason string // stop | tool_calls
	Model        string
	Usage        llm.Usage
	// Offered are the tools shown to the model; Removed those the caller
	// may not use (and, with drop, the undeclared ones).
	Offered, Removed []string
	// Decisions are every proposed call's decision, refused ones included.
	Decisions []agent.ToolCallRecord
	// Refused is set when the client got a refusal instead of the calls.
	Refused bool
	// Approvals are set when the turn is held for approval: the client got
	// a message saying so, and no call.
	Approvals []approval.Approval
	// found are the findings in the model's answers, recorded with the
	// run's end; protected is the answer as recorded (Message.Content
	// before values were revealed to the caller's roles).
	found     []audit.Event
	protected string
}

// Complete runs one governed pass-through request.
func (s *Service) Complete(ctx context.Context, req Request) (*Result, error) {
	start := s.Now()
	p := req.Principal
	base := audit.Event{RequestID: req.RequestID, RunID: req.RunID}.By(p)
	m, ok := s.Models[req.Model]
	if !ok {
		return nil, s.refuse(ctx, req, base, m, ErrUnknownModel)
	}
	if d := s.Perms.Check(p, m.Permission); !d.Allow {
		ev := base
		ev.Type, ev.Resource, ev.Decision, ev.Rule, ev.Reason = audit.TypeAuthzDecided, "model:"+m.Name, audit.Deny, d.Rule, d.Reason
		if err := s.Audit.Record(ctx, append(req.Before, ev)...); err != nil {
			return nil, err
		}
		return nil, ErrForbiddenModel
	}
	res := &Result{}
	offered, defs, answered, err := s.admit(ctx, req, res)
	if err != nil {
		return nil, s.refuse(ctx, req, base, m, err)
	}
	msgs, found, err := s.protectMessages(ctx, p, base, req.Messages)
	if err != nil {
		req.Before = append(req.Before, found...)
		return nil, s.refuse(ctx, req, base, m, err)
	}
	req.Messages = msgs
	for i := range answered {
		answered[i].content = s.Data.Scrub(answered[i].content)
	}

	// The findings of what the client sent are recorded with the run's end,
	// after its decisions: records, not preconditions.
	res.found = found
	frame := m.frame()
	if err := s.Audit.Record(ctx, startEvents(req, base, frame, res, answered)...); err != nil {
		return nil, err
	}
	runErr := s.report(ctx, p, answered)
	if runErr == nil {
		runErr = s.turns(ctx, req, m, base, offered, defs, res)
	}
	end := runs.End{Usage: &audit.Usage{PromptTokens: res.Usage.PromptTokens, CompletionTokens: res.Usage.CompletionTokens, TotalTokens: res.Usage.TotalTokens}}
	switch {
	case errors.Is(runErr, audit.ErrUnavailable):
		return nil, runErr
	case isRefusal(runErr):
		end.Outcome, end.Reason = "refused", "a concurrent request recorded another result for a call this one answers"
	case runErr != nil && ctx.Err() != nil:
		end.Outcome, end.Reason = "cancelled", "the client went away or the request timed out"
	case runErr != nil:
		end.Outcome, end.Reason = "error", runErr.Error()
	case res.Refused:
		end.Outcome, end.Reason = "refused", "the model kept proposing refused tool calls"
	default:
		end.Outcome = "ok"
		end.Content = map[string]string{"response": res.protected}
	}
	fin := runs.Finished(base, frame, start, s.Now(), end)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.Audit.Record(rctx, append(res.found, fin)...); err != nil {
		return nil, err
	}
	if runErr != nil {
		return res, runErr
	}
	return res, nil
}

// startEvents are the request's first durable record: its own events
// (Before), run.started, and a tool.finished for each result reported.
func startEvents(req Request, base audit.Event, frame runs.Frame, res *Result, answered []answer) []audit.Event {
	started := runs.Started(base, frame, audit.TypeRunStarted,
		"pass-through; tools offered: "+list(res.Offered)+"; removed: "+list(res.Removed),
		map[string]string{"message": lastUser(req.Messages)})
	evs := append(req.Before, started)
	for _, tm := range answered {
		fin := base
		fin.Type, fin.Resource, fin.Outcome = audit.TypeToolFinished, "tool:"+tm.tool, "reported"
		fin.Reason = "result reported by the client for call " + tm.id
		fin.Content = map[string]string{"result": tm.content}
		evs = append(evs, fin)
	}
	return evs
}

// turns asks the model until it answers with text or with tool calls that
// are all allowed, at most MaxRetries times again after a refusal.
func (s *Service) turns(ctx context.Context, req Request, m Model, base audit.Event, offered map[string]*agent.Tool, defs []llm.ToolDef, res *Result) error {
	msgs := append([]llm.Message(nil), req.Messages...)
	var lastRefusal string
	for attempt := 0; ; attempt++ {
		// A client that did not ask for a stream gets the turn whole, so
		// the upstream is not asked for one either (OnContent nil).
		write, done := s.onContent(ctx, req.Principal, req.OnContent)
		resp, err := s.Upstream.Stream(ctx, llm.Request{Model: m.upstream(), Messages: msgs, Tools: defs, Options: req.Options}, write)
		if err == nil {
			err = done()
		}
		if err != nil {
			return err
		}
		var shown string
		var found []audit.Event
		resp.Message.Content, shown, found = s.protectAnswer(ctx, req.Principal, base, resp.Message.Content)
		res.found = append(res.found, found...)
		res.protected = resp.Message.Content
		res.Usage.PromptTokens += resp.Usage.PromptTokens
		res.Usage.CompletionTokens += resp.Usage.CompletionTokens
		res.Usage.TotalTokens += resp.Usage.TotalTokens
		res.Model = m.Name
		calls := resp.Message.ToolCalls
		if len(calls) == 0 {
			res.Message = llm.Message{Role: "assistant", Content: shown}
			res.FinishReason = "stop"
			return nil
		}
		decided := make([]gate.Decision, len(calls))
		evs := make([]audit.Event, len(calls))
		refused, held := false, false
		for i, c := range calls {
			// Released ids are Gatehouse's own: unique across callers and
			// replicas whatever ids the upstream chose.
			c.ID = s.NewCallID()
			calls[i].ID = c.ID
			decided[i] = s.gate().Decide(ctx, gate.Input{Door: req.door(), Principal: req.Principal, Base: base,
				Declared: s.Tools, Offered: offered, Call: c})
			decided[i], calls[i].Arguments = s.release(ctx, req.Principal, decided[i])
			refused = refused || decided[i].Verdict == gate.Deny
			held = held || decided[i].Verdict == gate.Hold
		}
		for i := range decided {
			if refused && decided[i].Verdict == gate.Hold {
				// A refused turn is asked again: nothing of it waits for a person.
				decided[i] = decided[i].WithoutHold()
			}
			evs[i] = decided[i].Event
			if decided[i].Verdict == gate.Deny && lastRefusal == "" {
				lastRefusal = fmt.Sprintf("%s (%s)", decided[i].Call.Name, decided[i].Reason)
			}
			res.Decisions = append(res.Decisions, agent.RecordOf(decided[i]))
		}
		settle(decided, evs, res.Decisions[len(res.Decisions)-len(decided):], refused, held)
		// Durable before the client can receive any call, or the model is
		// asked again.
		if err := s.Audit.Record(ctx, evs...); err != nil {
			return err
		}
		if !refused && held {
			return s.pause(ctx, req, m, calls, decided, res)
		}
		if !refused {
			rel := make([]Released, len(calls))
			for i, c := range calls {
				h, _ := ArgumentsHash(c.Arguments) // the gate decoded them: they are JSON
				rel[i] = Released{ID: c.ID, Owner: req.Principal.Key(), Tool: decided[i].Tool.Policy.Tool, RunID: req.RunID,
					ArgsSHA256: h, Time: s.Now().UTC()}
			}
			if err := s.Calls.Release(ctx, rel); err != nil {
				return fmt.Errorf("store released tool calls: %w", err)
			}
			res.Message = llm.Message{Role: "assistant", Content: shown, ToolCalls: calls}
			res.FinishReason = "tool_calls"
			return nil
		}
		if attempt >= s.MaxRetries {
			res.Refused = true
			res.Message = llm.Message{Role: "assistant", Content: "The requested action is not permitted: " + lastRefusal + "."}
			res.FinishReason = "stop"
			return nil
		}
		// Tell the model which calls were refused and why; the allowed
		// calls of a refused turn are not released either.
		msgs = append(msgs, llm.Message{Role: "assistant", Content: resp.Message.Content, ToolCalls: calls})
		for _, d := range decided {
			content := d.RefusalContent()
			if d.Allowed() {
				content = `{"error":"not_run","reason":"another call of the same turn was refused; propose only permitted calls"}`
			}
			msgs = append(msgs, llm.Message{Role: "tool", ToolCallID: d.Call.ID, Content: content})
		}
	}
}

// frame is what a pass-through run's first and last records say of it.
func (m Model) frame() runs.Frame { return runs.Frame{Resource: "model:" + m.Name, Model: m.Name} }

func (m Model) upstream() string {
	if m.Upstream != "" {
		return m.Upstream
	}
	return m.Name
}

// filter keeps the offered tools the caller may use. Every offered tool
// must be declared as a client tool, unless undeclared ones are dropped.
func (s *Service) filter(p *principal.Principal, offeredTools []OfferedTool, res *Result) (map[string]*agent.Tool, []llm.ToolDef, error) {
	kept := map[string]*agent.Tool{}
	var defs []llm.ToolDef
	seen := map[string]bool{}
	for _, ot := range offeredTools {
		if seen[ot.Name] {
			return nil, nil, &InvalidRequestError{Msg: fmt.Sprintf("tool %q is offered twice", agent.CutName(ot.Name)),
				Reason: "a tool is offered twice", Name: ot.Name}
		}
		seen[ot.Name] = true
		t, ok := s.Tools[ot.Name]
		if !ok {
			if s.DropUndeclared {
				res.Removed = append(res.Removed, "undeclared")
				continue
			}
			return nil, nil, &UndeclaredToolError{Name: ot.Name}
		}
		if !s.Perms.Visible(p, t.Policy) {
			res.Removed = append(res.Removed, ot.Name)
			continue
		}
		kept[ot.Name] = t
		res.Offered = append(res.Offered, ot.Name)
		// The model sees the client's description, and the declared schema:
		// what the call is judged against is what the model is told.
		spec := t.Impl.Spec()
		desc := ot.Description
		if desc == "" {
			desc = spec.Description
		}
		defs = append(defs, llm.ToolDef{Name: ot.Name, Description: desc, Parameters: spec.Parameters})
	}
	return kept, defs, nil
}

func lastUser(msgs []llm.Message) string {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == "user" {
			return msgs[i].Content
		}
	}
	return ""
}

// list is names as a JSON array, or none. Names that JSON writes as they
// are (tool names: letters, digits, _ - . :) are joined directly; any other
// goes through encoding/json, which escapes it.
func list(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	n := 1
	for _, name := range names {
		if !plain(name) {
			b, _ := json.Marshal(names)
			return string(b)
		}
		n += len(name) + 3
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteByte('[')
	for i, name := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(name)
		b.WriteByte('"')
	}
	b.WriteByte(']')
	return b.String()
}

// plain reports whether s is written in JSON as it is, between quotes.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}
