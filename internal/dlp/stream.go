package dlp

import (
	"context"
	"errors"
	"strings"
)

// HoldBack bounds what a Stream keeps unsent. It holds back only the tail
// that may still grow into a value — the last word, and the groups of
// digits before it that a card, IBAN or phone number is written in — and
// at most this much of it: a value cut across chunks (a card with
// separators is at most 25 bytes, an IBAN 42, an e-mail address 254) is
// whole in the held tail by the time any of it is sent. A secret longer
// than this (a private key block) may be sent in part before it is
// recognised.
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
	cut := pending(s.held)
	if len(s.held)-cut > HoldBack {
		cut = len(s.held) - HoldBack
		// Never cut inside a value or a token: move the cut to its start.
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
	}
	cut = safeCut(s.held, cut)
	if cut <= 0 {
		return nil
	}
	out := s.held[:cut]
	s.held = s.held[cut:]
	return s.emit(ctx, out)
}

// pending is where the tail of s that may still grow into a value
// starts: its last word, and the groups before it a card, IBAN or phone
// number is written in ("4111 1111 11", "DE89 3704", "+44 20 79").
func pending(s string) int {
	i := wordStart(s, len(s))
	for i >= 2 && s[i-1] == ' ' && !isSpace(s[i-2]) {
		k := wordStart(s, i-1)
		if !groupLike(s[k : i-1]) {
			break
		}
		i = k
	}
	return i
}

func wordStart(s string, end int) int {
	for end > 0 && !isSpace(s[end-1]) {
		end--
	}
	return end
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

// groupLike: a short group with a digit, of the characters cards, IBANs
// and phone numbers are written with.
func groupLike(g string) bool {
	if len(g) == 0 || len(g) > 8 {
		return false
	}
	digit := false
	for i := range len(g) {
		switch c := g[i]; {
		case c >= '0' && c <= '9':
			digit = true
		case c >= 'A' && c <= 'Z', c == '+', c == '(', c == ')', c == '-', c == '.':
		default:
			return false
		}
	}
	return digit
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
