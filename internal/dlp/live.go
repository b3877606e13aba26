package dlp

import (
	"context"
	"log/slog"
	"maps"
	"sync/atomic"

	"github.com/gatehousehq/gatehouse/internal/audit"
)

// Live is the Protector of the config being served, for what outlives a
// config (the server log, the audit sink): a reload swaps it. Its zero
// value scrubs nothing.
type Live struct{ p atomic.Pointer[Protector] }

// Set makes p the live Protector (nil: none).
func (l *Live) Set(p *Protector) { l.p.Store(p) }

// Scrub is the live Protector's Scrub.
func (l *Live) Scrub(s string) string { return l.p.Load().Scrub(s) }

// Sink scrubs every event before Next records it: the clear fields a
// message or an argument can reach (reason, rule, resource, subject) and
// every content value, whatever audit.content keeps of them.
type Sink struct {
	Next audit.Sink
	Live *Live
}

// Record scrubs events and records them.
func (s Sink) Record(ctx context.Context, events ...audit.Event) error {
	if s.Live.p.Load() == nil {
		return s.Next.Record(ctx, events...)
	}
	out := make([]audit.Event, len(events))
	for i, ev := range events {
		if ev.Type == audit.TypeDataFound {
			// Made here from a finding's type, place and keyed hash, which
			// a detector might take for a secret.
			out[i] = ev
			continue
		}
		ev.Reason, ev.Rule, ev.Resource, ev.Subject = s.Live.Scrub(ev.Reason), s.Live.Scrub(ev.Rule), s.Live.Scrub(ev.Resource), s.Live.Scrub(ev.Subject)
		if len(ev.Content) > 0 {
			ev.Content = maps.Clone(ev.Content)
			for k, v := range ev.Content {
				ev.Content[k] = s.Live.Scrub(v)
			}
		}
		out[i] = ev
	}
	return s.Next.Record(ctx, out...)
}

// LogHandler scrubs every record's message and string attributes before
// next handles it.
func LogHandler(l *Live, next slog.Handler) slog.Handler { return &logHandler{l: l, next: next} }

type logHandler struct {
	l    *Live
	next slog.Handler
}

func (h *logHandler) Enabled(ctx context.Context, lv slog.Level) bool { return h.next.Enabled(ctx, lv) }

func (h *logHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.l.p.Load() == nil {
		return h.next.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, r.Level, h.l.Scrub(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *logHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.l.Scrub(v.String()))
	case slog.KindGroup:
		g := v.Group()
		out := make([]any, len(g))
		for i, x := range g {
			out[i] = h.attr(x)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, h.l.Scrub(err.Error()))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

func (h *logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = h.attr(a)
	}
	return &logHandler{l: h.l, next: h.next.WithAttrs(out)}
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	return &logHandler{l: h.l, next: h.next.WithGroup(name)}
}
