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

// Record scrubs events and records them. The caller's events and their
// content maps are never changed: an event that needs scrubbing is copied,
// one that does not is passed on as it is.
func (s Sink) Record(ctx context.Context, events ...audit.Event) error {
	p := s.Live.p.Load()
	if p == nil {
		return s.Next.Record(ctx, events...)
	}
	var out []audit.Event // nil until an event changes
	for i, ev := range events {
		if ev.Type == audit.TypeDataFound {
			// Made here from a finding's type, place and keyed hash, which
			// a detector might take for a secret.
			if out != nil {
				out[i] = ev
			}
			continue
		}
		reason, rule, resource, subject := p.Scrub(ev.Reason), p.Scrub(ev.Rule), p.Scrub(ev.Resource), p.Scrub(ev.Subject)
		content := scrubContent(p, ev.Content)
		changed := reason != ev.Reason || rule != ev.Rule || resource != ev.Resource || subject != ev.Subject || content != nil
		if changed {
			ev.Reason, ev.Rule, ev.Resource, ev.Subject = reason, rule, resource, subject
			if content != nil {
				ev.Content = content
			}
		}
		if changed && out == nil {
			out = make([]audit.Event, len(events))
			copy(out, events[:i])
		}
		if out != nil {
			out[i] = ev
		}
	}
	if out == nil {
		return s.Next.Record(ctx, events...)
	}
	return s.Next.Record(ctx, out...)
}

// scrubContent is content with every value scrubbed, a copy; nil when no
// value needs it.
func scrubContent(p *Protector, content map[string]string) map[string]string {
	var out map[string]string
	for k, v := range content {
		c := p.Scrub(v)
		if c == v {
			continue
		}
		if out == nil {
			out = maps.Clone(content)
		}
		out[k] = c
	}
	return out
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
