package audit

import (
	"context"
	"time"
)

// Store keeps chained events and checkpoints. Backends live in
// internal/store/...; all of them pass internal/store/storetest.
//
// A store returns every event exactly as it was appended (a canonical round
// trip, see EncodeCanonical); anything else, including an edit of the stored
// row, shows up as a broken chain in Verify.
type Store interface {
	// Append stores events in one transaction that is durable (fsync'd)
	// when Append returns nil, each with its Canonical encoding as body.
	// Within a chain (ChainID, Seq) is unique: an event whose seq is
	// already taken fails the whole batch. The events slice and each
	// event's Tree are the caller's again once Append returns (the Log
	// reuses their memory): a store that keeps them copies them.
	Append(ctx context.Context, events []Sealed) error
	// Head returns the last event of a chain, or ok=false for an empty chain.
	Head(ctx context.Context, chainID string) (e Event, ok bool, err error)
	// List returns events matching f in insertion order (or its reverse),
	// each with its position for paging.
	List(ctx context.Context, f Filter) ([]Entry, error)
	// Scan calls fn for every event at or after since (zero: all), ordered by
	// chain id and then seq, and stops at fn's first error.
	Scan(ctx context.Context, since time.Time, fn func(Event) error) error
	// SaveCheckpoint stores a signed checkpoint.
	SaveCheckpoint(ctx context.Context, c Checkpoint) error
	// Checkpoints returns all stored checkpoints, oldest first.
	Checkpoints(ctx context.Context) ([]Checkpoint, error)
	// Ping reports whether the store can take a write transaction now.
	Ping(ctx context.Context) error
	Close() error
}

// Filter selects events for Store.List. Empty fields match everything.
type Filter struct {
	Subject  string
	Type     string
	Decision string
	Since    time.Time // inclusive
	Until    time.Time // exclusive
	// AfterID and BeforeID bound Entry.ID (exclusive; zero: unbounded).
	AfterID  int64
	BeforeID int64
	// Desc returns newest first.
	Desc  bool
	Limit int // zero or negative: the store's default of 100
}

// Entry is a listed event with its store position, a number that grows with
// every append across all chains.
type Entry struct {
	ID    int64
	Event Event
}

// DefaultListLimit is used when Filter.Limit is not positive.
const DefaultListLimit = 100
