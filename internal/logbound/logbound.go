// Package logbound bounds what one log line can carry. Many logged values
// come from callers (a method, a token's subject, an error quoting a path);
// a handler wrapped by New cuts the message and every attribute value, so
// no request can write a log line of its own chosen size.
package logbound

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/gatehousehq/gatehouse/internal/audit"
)

const (
	// MaxValueBytes bounds the message and each attribute value.
	MaxValueBytes = audit.MaxFieldBytes
	// MaxStackBytes bounds an attribute named "stack": a panic's stack is
	// our own text, worth more room, yet its depth is not ours to bound.
	MaxStackBytes = 16 << 10
	// MaxAttrs bounds the attributes of one line (groups count their own).
	MaxAttrs = 32
)

// Handler cuts what it passes on (see the package doc).
type Handler struct{ next slog.Handler }

var _ slog.Handler = Handler{}

// New wraps h; wrapping a Handler again returns it as it is.
func New(h slog.Handler) slog.Handler {
	if b, ok := h.(Handler); ok {
		return b
	}
	return Handler{next: h}
}

// Enabled implements slog.Handler.
func (h Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle implements slog.Handler.
func (h Handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, audit.Cut(r.Message, MaxValueBytes), r.PC)
	n := 0
	r.Attrs(func(a slog.Attr) bool {
		if n == MaxAttrs {
			out.AddAttrs(slog.Int("attrs_cut", r.NumAttrs()-MaxAttrs))
			return false
		}
		n++
		out.AddAttrs(cut(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs implements slog.Handler.
func (h Handler) WithAttrs(as []slog.Attr) slog.Handler {
	cs := make([]slog.Attr, 0, min(len(as), MaxAttrs))
	for i, a := range as {
		if i == MaxAttrs {
			break
		}
		cs = append(cs, cut(a))
	}
	return Handler{next: h.next.WithAttrs(cs)}
}

// WithGroup implements slog.Handler.
func (h Handler) WithGroup(name string) slog.Handler {
	return Handler{next: h.next.WithGroup(audit.Cut(name, MaxValueBytes))}
}

func cut(a slog.Attr) slog.Attr {
	a.Key = audit.Cut(a.Key, MaxValueBytes)
	v := a.Value.Resolve()
	limit := MaxValueBytes
	if a.Key == "stack" {
		limit = MaxStackBytes
	}
	switch v.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(audit.Cut(v.String(), limit))
	case slog.KindAny:
		// Errors, panic values, anything printed: as the text it would be.
		var s string
		if err, ok := v.Any().(error); ok {
			s = err.Error()
		} else {
			s = fmt.Sprint(v.Any())
		}
		a.Value = slog.StringValue(audit.Cut(s, limit))
	case slog.KindGroup:
		g := v.Group()
		cs := make([]slog.Attr, 0, min(len(g), MaxAttrs))
		for i, ga := range g {
			if i == MaxAttrs {
				break
			}
			cs = append(cs, cut(ga))
		}
		a.Value = slog.GroupValue(cs...)
	default:
		a.Value = v
	}
	return a
}
