package audit

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
)

// EventID names one event: its chain and seq, written "CHAIN:SEQ" (the
// last colon separates them, so a chain id may hold one).
type EventID struct {
	ChainID string
	Seq     int64
}

func (id EventID) String() string { return id.ChainID + ":" + strconv.FormatInt(id.Seq, 10) }

// ParseEventID reads "CHAIN:SEQ".
func ParseEventID(s string) (EventID, error) {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 {
		return EventID{}, errors.New("event id is not CHAIN:SEQ")
	}
	seq, err := strconv.ParseInt(s[i+1:], 10, 64)
	if err != nil || seq < 1 || strconv.FormatInt(seq, 10) != s[i+1:] {
		return EventID{}, errors.New("event id is not CHAIN:SEQ (seq a positive integer)")
	}
	return EventID{ChainID: s[:i], Seq: seq}, nil
}

// IDs collects the ids of the events recorded with a context (see
// WithIDs): a run names its events in its answer without every sink
// between it and the Log passing ids back.
type IDs struct {
	mu  sync.Mutex
	ids []EventID
}

type idsKey struct{}

// WithIDs returns ctx carrying a new collector: each Log.Record through a
// context derived from it adds the ids it committed.
func WithIDs(ctx context.Context) (context.Context, *IDs) {
	c := &IDs{}
	return context.WithValue(ctx, idsKey{}, c), c
}

func (c *IDs) add(ids []EventID) {
	c.mu.Lock()
	c.ids = append(c.ids, ids...)
	c.mu.Unlock()
}

// List returns the collected ids as strings, in recording order.
func (c *IDs) List() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.ids))
	for i, id := range c.ids {
		out[i] = id.String()
	}
	return out
}
