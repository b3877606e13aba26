package agent

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/dlp"
	"github.com/gatehousehq/gatehouse/internal/gate"
	"github.com/gatehousehq/gatehouse/internal/llm"
)

// protectRequest protects what the caller sent before the model or the
// log sees it: the message, and the history a client holds (Stateless;
// a stored session's history was protected when it was stored). Its
// findings join the run's first record. A finding to block refuses the
// run: the findings and the request's own events are recorded, and the
// error wraps dlp.ErrBlocked.
func (r *Runner) protectRequest(ctx context.Context, req *RunRequest) error {
	if r.Data == nil {
		return nil
	}
	sc := gate.Scope(req.Principal, r.baseEvent(*req))
	msg, found, err := r.Data.Protect(ctx, sc, "the caller's message", req.Message)
	if err == nil && req.Stateless {
		history := make([]llm.Message, len(req.History))
		for i, m := range req.History {
			var f []dlp.Found
			history[i] = m
			history[i].Content, f, err = r.Data.Protect(ctx, sc, fmt.Sprintf("the caller's history (message %d)", i), m.Content)
			found = append(found, f...)
			if err != nil {
				break
			}
		}
		req.History = history
	}
	evs := gate.FoundEvents(r.baseEvent(*req), found)
	if errors.Is(err, dlp.ErrBlocked) {
		if rerr := r.Audit.Record(context.WithoutCancel(ctx), append(req.Before, evs...)...); rerr != nil {
			return fmt.Errorf("record refusal: %w", rerr)
		}
		return err
	}
	if err != nil {
		return err
	}
	req.Message = msg
	req.found = evs
	return nil
}

// protectAnswer protects a model turn's text before the client, the
// session or the next turn sees it; its findings are recorded with the
// run's next write. Text holding a value to block is withheld whole.
func (r *Runner) protectAnswer(ctx context.Context, req RunRequest, base audit.Event, log *runLog, msg *llm.Message) error {
	if r.Data == nil || msg.Content == "" {
		return nil
	}
	out, found, err := r.Data.Protect(ctx, gate.Scope(req.Principal, base), "the model's answer", msg.Content)
	log.later(gate.FoundEvents(base, found)...)
	var be *dlp.BlockedError
	if errors.As(err, &be) {
		out, err = "The answer was withheld: "+be.Error()+".", nil
	}
	if err != nil {
		return err
	}
	msg.Content = out
	return nil
}

// reveal is text as the caller sees it: tokens of the types its roles may
// see (data_protection.reveal) replaced by their values.
func (r *Runner) reveal(ctx context.Context, req RunRequest, base audit.Event, text string) string {
	if r.Data == nil {
		return text
	}
	return r.Data.Reveal(ctx, gate.Scope(req.Principal, base), req.Principal.Roles, text)
}

// stream is where a streamed turn's content goes: straight to the run's
// observers, or through data protection's stream filter, which holds back
// a bounded tail so a value split across chunks is still caught.
func (r *Runner) stream(req RunRequest, base audit.Event, log *runLog, round int) (write func(context.Context, string) error, done func(context.Context) error) {
	send := func(s string) error {
		if s != "" {
			log.emit(Event{Type: EventMessageDelta, Turn: round, Content: s})
		}
		return nil
	}
	if r.Data == nil {
		return func(_ context.Context, s string) error { return send(s) }, func(context.Context) error { return nil }
	}
	s := r.Data.NewStream(gate.Scope(req.Principal, base), "the model's answer", req.Principal.Roles, send)
	return s.Write, s.Close
}
