// Package session holds multi-turn conversations, each owned by one subject.
package session

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/gatehousehq/gatehouse/internal/ids"
)

// ErrNotFound means no session with that id exists for the asking subject.
// A session owned by someone else is reported the same way.
var ErrNotFound = errors.New("session not found")

// ErrFull means a session has reached its Limits: nothing more is appended.
var ErrFull = errors.New("session full")

// ToolCall is a model's request to call a tool, as kept in history.
type ToolCall struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// Message is one message of a conversation in the model's terms.
type Message struct {
	Role       string     `json:"role"` // user | assistant | tool
	Content    string     `json:"content"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
	Time       time.Time  `json:"time"`
}

// Session is a conversation and its owner.
type Session struct {
	ID       string    `json:"id"`
	Subject  string    `json:"subject"`
	Agent    string    `json:"agent"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
	Messages []Message `json:"messages"`
}

// Store keeps sessions. Every read and write is scoped to the owning subject:
// a wrong subject gets ErrNotFound and changes nothing.
type Store interface {
	Create(ctx context.Context, s *Session) error
	Get(ctx context.Context, id, subject string) (*Session, error)
	// Append adds msgs to the session if, at that moment, its stored
	// history is within lim (Limits.Check); otherwise it changes nothing
	// and returns an error wrapping ErrFull. The check and the append are
	// one atomic step: turns of one session that ran side by side cannot
	// together pass a bound that each alone respects.
	Append(ctx context.Context, id, subject string, lim Limits, msgs ...Message) error
	Close() error
}

// Limits bound a session's stored history; zero means unbounded. A session
// below both takes one more append (a run's messages), so it may end one
// append past them.
type Limits struct {
	MaxMessages int
	MaxBytes    int64
}

// Check returns nil when a session holding msgs may take another append,
// else an error wrapping ErrFull that says which bound it reached.
func (l Limits) Check(msgs []Message) error { return l.CheckSize(len(msgs), Size(msgs)) }

// CheckSize is Check for a history of n messages and the given Size.
func (l Limits) CheckSize(n int, bytes int64) error {
	if l.MaxMessages > 0 && n >= l.MaxMessages {
		return fmt.Errorf("%w: %d messages, the most sessions.max_messages allows", ErrFull, n)
	}
	if l.MaxBytes > 0 && bytes >= l.MaxBytes {
		return fmt.Errorf("%w: %d bytes of history, sessions.max_bytes is %d", ErrFull, bytes, l.MaxBytes)
	}
	return nil
}

// Size is what Limits.MaxBytes counts: the bytes of message text, tool
// call ids, names and arguments.
func Size(msgs []Message) int64 {
	var n int64
	for _, m := range msgs {
		n += int64(len(m.Content) + len(m.ToolCallID))
		for _, tc := range m.ToolCalls {
			n += int64(len(tc.ID) + len(tc.Name) + len(tc.Arguments))
		}
	}
	return n
}

// idPrefix starts every session id; ids.New gives the rest (128 random
// bits in lowercase hex).
const idPrefix = "ses_"

// NewID returns a new random session id.
func NewID() string { return ids.New(idPrefix) }

// ValidID reports whether id has the shape NewID gives. A caller's id is
// checked before any lookup or record, so a malformed one (of any size)
// reaches neither the store nor the audit log.
func ValidID(id string) bool { return ids.Valid(idPrefix, id) }

// FillNew fills what a store's Create fills in a new session: an empty
// ID with a random one, a zero Created with now and a zero Updated with
// Created.
func (s *Session) FillNew(now time.Time) error {
	if s.ID == "" {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return fmt.Errorf("create session id: %w", err)
		}
		s.ID = hex.EncodeToString(b)
	}
	if s.Created.IsZero() {
		s.Created = now.UTC()
	}
	if s.Updated.IsZero() {
		s.Updated = s.Created
	}
	return nil
}
