// Package chat runs one chat turn for a caller: it picks the agent,
// continues the caller's own session within its bounds (or starts one),
// runs the agent and stores the turn's messages. Every front door — /chat,
// /v1/chat, and the OpenAI-compatible /v1/chat/completions — calls the same
// Service, so the rules live here once; the HTTP layer only decodes,
// calls Run and maps the errors below to statuses.
package chat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gatehousehq/gatehouse/internal/agent"
	"github.com/gatehousehq/gatehouse/internal/approval"
	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/gate"
	"github.com/gatehousehq/gatehouse/internal/llm"
	"github.com/gatehousehq/gatehouse/internal/principal"
	"github.com/gatehousehq/gatehouse/internal/runs"
	"github.com/gatehousehq/gatehouse/internal/session"
)

// Errors a turn can be refused with; the HTTP layer maps each to a status.
// Errors of the run itself (agent.ErrRunTimeout, agent.LimitError,
// llm.ErrProvider, audit.ErrUnavailable) come wrapped in a *RunError.
var (
	// ErrEmptyMessage: the request has no message.
	ErrEmptyMessage = errors.New("message is required")
	// ErrUnknownAgent: no agent has the requested name (see *UnknownAgentError).
	ErrUnknownAgent = errors.New("unknown agent")
	// ErrMalformedSessionID: a session id not of the shape session.NewID gives.
	ErrMalformedSessionID = errors.New("malformed session id")
	// ErrSessionNotFound: no session with this id for this caller (someone
	// else's is reported the same way).
	ErrSessionNotFound = session.ErrNotFound
	// ErrAgentMismatch: the session belongs to another agent than requested.
	ErrAgentMismatch = errors.New("session belongs to another agent")
	// ErrSessionFull: the session reached its bounds (session.Limits).
	ErrSessionFull = session.ErrFull
	// ErrOverloaded: more runs in flight than the front door admits.
	ErrOverloaded = runs.ErrOverloaded
)

// UnknownAgentError names the agent asked for. The name is the caller's
// input, of any size: whoever shows it must bound it.
type UnknownAgentError struct{ Name string }

func (e *UnknownAgentError) Error() string { return ErrUnknownAgent.Error() }

// Is makes errors.Is(err, ErrUnknownAgent) hold.
func (e *UnknownAgentError) Is(target error) bool { return target == ErrUnknownAgent }

// RunError is a run that started (its events are in the audit log under
// RunID) and then failed.
type RunError struct {
	RunID string
	Err   error
}

func (e *RunError) Error() string { return "run " + e.RunID + ": " + e.Err.Error() }
func (e *RunError) Unwrap() error { return e.Err }

// Config is what a Service needs; one config (of one reload) makes one.
type Config struct {
	Sessions     session.Store
	Runner       *agent.Runner
	Agents       map[string]*agent.Agent
	DefaultAgent string
	Limits       session.Limits
	// Door admits and names runs (nil: a door of its own, unbounded).
	Door *runs.Door
	// Audit records refusals: session.denied, and Request.Before when a
	// turn is refused before its run starts.
	Audit audit.Sink
	Log   *slog.Logger // nil: discard
	// Approvals keeps paused runs and their approvals; nil: a run that
	// reaches a call needing approval fails with ErrApprovalUnavailable.
	Approvals approval.Store
	// Now is the clock paused runs are stamped with (time.Now when nil).
	Now func() time.Time
}

// Service runs chat turns. It is safe for concurrent use.
type Service struct {
	cfg Config
}

// New returns a Service for cfg.
func New(cfg Config) *Service {
	if cfg.Door == nil {
		cfg.Door = &runs.Door{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg}
}

// Request is one turn.
type Request struct {
	Principal *principal.Principal
	Agent     string // "": the default agent
	// SessionID continues the caller's own session; "" starts a new one.
	SessionID string
	Message   string
	// Stateless runs without a session: History is the conversation before
	// Message as the client holds it (Chat Completions sends it whole), and
	// nothing is read or stored. SessionID must be empty.
	Stateless bool
	History   []llm.Message
	RequestID string
	// Before are audit events (the request's authorization decision) made
	// durable with the run's start, or with the refusal when the turn is
	// refused before it: Run returns only once they are recorded.
	Before []audit.Event
	// OnEvent, when set, hears the turn's progress as it happens (for
	// streaming front doors). It is called on Run's goroutine.
	OnEvent func(Event)
	// OnRunEvent, when set, hears the run's own steps as they happen
	// (agent.RunRequest.Events): content deltas, tool decisions and results.
	OnRunEvent func(agent.Event)
	// Door is the way the run's tool calls came in (gate.DoorAgent when
	// zero; gate.DoorMCPAsk for /mcp ask_<agent>).
	Door gate.Door
}

// Event is one step of a turn, for Request.OnEvent.
type Event struct {
	Type      string // EventStarted | EventFinished
	RunID     string
	SessionID string // "" when stateless
	Agent     string
	Result    *Result // with EventFinished
}

// Event types.
const (
	// EventStarted: the turn was admitted and its run is starting.
	EventStarted = "run.started"
	// EventFinished: the run finished and its messages are stored.
	EventFinished = "run.finished"
)

// Result is a finished turn.
type Result struct {
	RunID     string
	SessionID string // "" when stateless
	Agent     string
	Model     string
	Response  string
	ToolCalls []agent.ToolCallRecord // never nil
	Usage     llm.Usage
	// Status is "" for a finished run, approval.RunAwaiting for one paused
	// at Approvals (pending; the run continues on the server once decided).
	Status    string
	Approvals []approval.Approval
	// AuditEvents are the run's audit event ids (see agent.Result).
	AuditEvents []string
}

// Run runs one turn: the agent (req.Agent or the default), the caller's
// session if req.SessionID names one, the run, and the new messages stored.
//
// When the run completed but its session has meanwhile filled (concurrent
// turns of one session), the messages are not stored and Run returns a
// *RunError wrapping ErrSessionFull: the run's events are in the audit log,
// its answer is not given.
func (s *Service) Run(ctx context.Context, req Request) (*Result, error) {
	var denied []audit.Event
	res, err := s.run(ctx, &req, &denied)
	// A refusal before the run still makes the request's events durable.
	if evs := append(req.Before, denied...); err != nil && len(evs) > 0 {
		if rerr := s.cfg.Audit.Record(context.WithoutCancel(ctx), evs...); rerr != nil {
			return nil, fmt.Errorf("record refusal: %w", rerr)
		}
	}
	return res, err
}

func (s *Service) run(ctx context.Context, req *Request, denied *[]audit.Event) (*Result, error) {
	if req.Message == "" {
		return nil, ErrEmptyMessage
	}
	if req.Stateless && req.SessionID != "" {
		return nil, errors.New("chat: a stateless turn takes no session id")
	}
	name := req.Agent
	if name == "" {
		name = s.cfg.DefaultAgent
	}
	ag, ok := s.cfg.Agents[name]
	if !ok {
		return nil, &UnknownAgentError{Name: name}
	}
	history := req.History
	sessionID := req.SessionID
	if sessionID != "" {
		sess, err := s.lookup(ctx, req.Principal, req.RequestID, sessionID, denied)
		if err != nil {
			return nil, err
		}
		if sess.Agent != ag.Name {
			return nil, fmt.Errorf("%w %q", ErrAgentMismatch, sess.Agent)
		}
		// Checked here so a full session runs nothing; Append checks again,
		// atomically, for turns that ran side by side.
		if err := s.cfg.Limits.Check(sess.Messages); err != nil {
			return nil, err
		}
		history = FromSession(sess.Messages)
	}
	newSession := sessionID == "" && !req.Stateless
	if newSession {
		sessionID = session.NewID()
	}
	admitted, err := s.cfg.Door.Admit()
	if err != nil {
		return nil, err
	}
	defer admitted.Done()
	runID := admitted.ID
	if req.OnEvent != nil {
		req.OnEvent(Event{Type: EventStarted, RunID: runID, SessionID: sessionID, Agent: ag.Name})
	}
	before := req.Before
	req.Before = nil // the run records them now, whatever its outcome
	out, err := s.cfg.Runner.Run(ctx, agent.RunRequest{
		Agent: ag, Principal: req.Principal, Message: req.Message, History: history,
		RequestID: req.RequestID, RunID: runID, SessionID: sessionID, Before: before,
		Events: req.OnRunEvent, Door: req.Door, Stateless: req.Stateless,
	})
	if err != nil {
		return nil, &RunError{RunID: runID, Err: err}
	}
	if out.Paused != nil {
		// The session gets the turn's messages when the run completes.
		res, err := s.pause(ctx, req, ag, runID, sessionID, newSession, out)
		if err != nil {
			return nil, &RunError{RunID: runID, Err: err}
		}
		return res, nil
	}
	if err := s.store(ctx, req.Principal, ag.Name, sessionID, newSession, req.Stateless, out.Messages); err != nil {
		return nil, &RunError{RunID: runID, Err: err}
	}
	res := &Result{RunID: runID, SessionID: sessionID, Agent: ag.Name, Model: out.Model,
		Response: out.Response, ToolCalls: out.ToolCalls, Usage: out.Usage, AuditEvents: out.AuditEvents}
	if res.ToolCalls == nil {
		res.ToolCalls = []agent.ToolCallRecord{}
	}
	if req.OnEvent != nil {
		req.OnEvent(Event{Type: EventFinished, RunID: runID, SessionID: sessionID, Agent: ag.Name, Result: res})
	}
	return res, nil
}

// store writes a turn's messages: a new session is created once, with its
// first messages; a continued one takes them only within its bounds.
func (s *Service) store(ctx context.Context, p *principal.Principal, agentName, id string, isNew, stateless bool, msgs []llm.Message) error {
	switch {
	case stateless:
		return nil
	case isNew:
		return s.cfg.Sessions.Create(ctx, &session.Session{ID: id, Subject: p.Key(), Agent: agentName,
			Messages: ToSession(msgs)})
	default:
		return s.cfg.Sessions.Append(ctx, id, p.Key(), s.cfg.Limits, ToSession(msgs)...)
	}
}

// Session returns the caller's session id. A malformed id is refused
// before any lookup; one the caller does not own (or that does not exist)
// is recorded as session.denied before ErrSessionNotFound is returned.
func (s *Service) Session(ctx context.Context, p *principal.Principal, requestID, id string) (*session.Session, error) {
	var denied []audit.Event
	sess, err := s.lookup(ctx, p, requestID, id, &denied)
	if len(denied) > 0 {
		if rerr := s.cfg.Audit.Record(context.WithoutCancel(ctx), denied...); rerr != nil {
			return nil, fmt.Errorf("record session denial: %w", rerr)
		}
	}
	return sess, err
}

// lookup finds the caller's session id; a miss adds its session.denied
// event to denied, for the caller to make durable.
func (s *Service) lookup(ctx context.Context, p *principal.Principal, requestID, id string, denied *[]audit.Event) (*session.Session, error) {
	if !session.ValidID(id) {
		return nil, ErrMalformedSessionID
	}
	// Sessions are owned by the principal's key (method, issuer, subject).
	sess, err := s.cfg.Sessions.Get(ctx, id, p.Key())
	if errors.Is(err, session.ErrNotFound) {
		s.cfg.Log.WarnContext(ctx, "session access denied", "request_id", requestID, "subject", p.Subject, "session_id", id)
		*denied = append(*denied, audit.Event{
			Type: audit.TypeSessionDenied, RequestID: requestID, SessionID: id,
			Decision: audit.Deny, Rule: "session owner", Reason: "no session with this id for this subject", Resource: "session:" + id,
		}.By(p))
	}
	if err != nil {
		return nil, err
	}
	return sess, nil
}
