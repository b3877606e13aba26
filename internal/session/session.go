// Package session holds multi-turn conversations, each owned by one subject.
package session

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound means no session with that id exists for the asking subject.
// A session owned by someone else is reported the same way.
var ErrNotFound = errors.New("session not found")

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
	Append(ctx context.Context, id, subject string, msgs ...Message) error
	Close() error
}
