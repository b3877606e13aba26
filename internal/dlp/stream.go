package dlp

import (
	"context"
	"errors"
	"strings"
)

// HoldBack is how much of a streamed text a Stream keeps unsent: a value
// (a card with separators is at most 25 bytes, an IBAN 42, an e-mail
// address 254) cut across chunks is whole in the held tail by the time
// any of it is sent. A secret longer than this (a private key block) may
// be sent in part before it is recognised.
const HoldBack = 256

// Stream protects text that arrives in chunks (a model's streamed
// answer): it sends on what can no longer be part of a value, and holds
// back a bounded tail. Not safe for concurrent use.
type Stream struct {
	p     *Protector
	sc    Scope
	where string
	roles []string
	send  func(string) error
	held  string
	// Found are the findings of what was sent so far.
	Found []Found
}

// NewStream returns a Stream for scope sc that sends protected text,
// tokens revealed to roles as Reveal does, to send.
func (p *Protector) NewStream(sc Scope, where string, roles []string, send func(string) error) *Stream {
	return &Stream{p: p, sc: sc, where: where, roles: roles, send: send}
}

// Write takes the next chunk and sends what is safe to send.
func (s *Stream) Write(ctx context.Context, chunk string) error {
	s.held += chunk
	if len(s.held) <= HoldBack {
		return nil
	}
	cut := len(s.held) - HoldBack
	// Never cut inside a value or a token: move the cut to its start. A
	// value reaching back past the cut is whole in the held tail by now.
	for _, sp := range s.p.spans(s.held) {
		if sp.Start < cut && cut < sp.End {
			cut = sp.Start
		}
	}
	for _, t := range tokenPattern.FindAllStringIndex(s.held, -1) {
		if t[0] < cut && cut < t[1] {
			cut = t[0]
		}
	}
	cut = safeCut(s.held, cut)
	if cut <= 0 {
		return nil
	}
	out := s.held[:cut]
	s.held = s.held[cut:]
	return s.emit(ctx, out)
}

// safeCut moves cut back to a UTF-8 boundary.
func safeCut(s string, cut int) int {
	for cut > 0 && cut < len(s) && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return cut
}

// Close sends what is held.
func (s *Stream) Close(ctx context.Context) error {
	out := s.held
	s.held = ""
	if out == "" {
		return nil
	}
	return s.emit(ctx, out)
}

// emit protects and sends text. A value to block is sent redacted: the
// text before it may have gone already, so it cannot be refused whole.
func (s *Stream) emit(ctx context.Context, text string) error {
	out, found, err := s.p.Protect(ctx, s.sc, s.where, text)
	s.Found = append(s.Found, found...)
	if errors.Is(err, ErrBlocked) {
		out, err = s.p.redactAll(text), nil
	}
	if err != nil {
		return err
	}
	if s.roles != nil {
		out = s.p.Reveal(ctx, s.sc, s.roles, out)
	}
	return s.send(out)
}

// redactAll redacts every finding in text, whatever its action.
func (p *Protector) redactAll(text string) string {
	var b strings.Builder
	last := 0
	for _, sp := range p.spans(text) {
		b.WriteString(text[last:sp.Start])
		b.WriteString(redacted(sp.Type))
		last = sp.End
	}
	b.WriteString(text[last:])
	return b.String()
}
