package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// Config configures a Log. New fills defaults for zero values.
type Config struct {
	// Store is where events go. The Log does not close it.
	Store Store
	// ChainID names this process's chain. Default: random per process, as
	// several processes may append to one shared store. A fixed id continues
	// one chain across restarts (sensible with a single-process SQLite log).
	ChainID string
	// ContentMode says how Event.Content is stored. Default: ContentNone.
	ContentMode ContentMode
	// HMACKey keys ContentHMAC (at least 16 bytes).
	HMACKey []byte
	// CommitTimeout bounds how long Record waits for durability. Default 2s.
	CommitTimeout time.Duration
	// MaxBatch caps the events committed in one transaction. Default 1024.
	MaxBatch int
	// CheckpointKey signs checkpoints; nil disables them.
	CheckpointKey ed25519.PrivateKey
	// NoteKey signs the Merkle tree's checkpoints (C2SP tlog-checkpoint
	// signed notes, origin gatehouse/<chain>); nil signs none. They are
	// made at the same moments as the checkpoints of CheckpointKey.
	NoteKey note.Signer
	// NoTree keeps no Merkle tree even over a TreeStore (the bench's
	// baseline). Without a TreeStore there is none either.
	NoTree bool
	// OnNote is called by the writer after each note checkpoint is stored
	// (witnessing starts from it); it must not block.
	OnNote func(NoteCheckpoint)
	// CheckpointEvery writes a checkpoint after this many events. Default 1000.
	CheckpointEvery int
	// CheckpointInterval writes a checkpoint of a non-empty chain at least
	// this often, also when idle. Default 1 minute.
	CheckpointInterval time.Duration
	// CheckpointTicks, when set, replaces the CheckpointInterval ticker:
	// each value received is one interval passing (tests drive it).
	CheckpointTicks <-chan time.Time
	// AuthFailureRate and AuthFailureBurst bound RecordAuthFailure (a token
	// bucket, events per second). Defaults 50/s and 100.
	AuthFailureRate  float64
	AuthFailureBurst int
	// SummaryInterval is how often suppressed authentication failures are
	// recorded as one auth.suppressed event. Default 10s.
	SummaryInterval time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger reports background failures (checkpoints). Default slog.Default().
	Logger *slog.Logger
}

// Log is the audit Sink: one writer goroutine chains queued events and
// commits them in groups, so concurrent Record calls share one fsync.
type Log struct {
	cfg     Config
	queue   chan *request
	closing chan struct{}
	done    chan struct{}
	once    sync.Once

	// Owned by the writer goroutine.
	seq        int64
	hash       string
	stale      bool // head must be reloaded from the store before chaining
	sinceCheck int
	signedHead bool      // a checkpoint of this process covers the head (the first one also covers a head it started on)
	tree       *frontier // the chain's Merkle tree; nil when kept by none
	trees      TreeStore // cfg.Store when it keeps trees and NoTree is false
	noted      int64     // the size of the last note checkpoint stored
	scratch    struct {
		sealer sealer
		events []Sealed
		hashes []StoredHash
		tree   *frontier // the tree's copy a batch extends
	}

	macs    contentMACs // for ContentHMAC
	timers  sync.Pool   // of Record's *time.Timer
	limiter authLimiter
	stats   struct{ events, batches, failures atomic.Int64 }
}

var _ Sink = (*Log)(nil)

// Request states: the writer takes a pending request, or Record abandons it
// on timeout; whichever comes first decides whether it is written.
const (
	statePending int32 = iota
	stateTaken
	stateAbandoned
)

type request struct {
	events []Event
	ids    []EventID // set by the writer before done is sent
	state  atomic.Int32
	done   chan error
	inline [2]Event // the events of a Record of up to two (most are), in the same allocation
}

// New validates cfg, fills defaults and starts the writer. Close stops it.
func New(cfg Config) (*Log, error) {
	if cfg.Store == nil {
		return nil, errors.New("new audit log: no store")
	}
	if cfg.ContentMode == "" {
		cfg.ContentMode = ContentNone
	}
	if err := cfg.ContentMode.validate(cfg.HMACKey); err != nil {
		return nil, fmt.Errorf("new audit log: %w", err)
	}
	if cfg.ChainID == "" {
		b := make([]byte, 8)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("new audit log chain id: %w", err)
		}
		cfg.ChainID = hex.EncodeToString(b)
	}
	cfg.ChainID = strings.ToValidUTF8(cfg.ChainID, "\uFFFD")
	setDefault(&cfg.CommitTimeout, 2*time.Second)
	setDefault(&cfg.MaxBatch, 1024)
	setDefault(&cfg.CheckpointEvery, 1000)
	setDefault(&cfg.CheckpointInterval, time.Minute)
	setDefault(&cfg.AuthFailureRate, 50)
	setDefault(&cfg.AuthFailureBurst, 100)
	setDefault(&cfg.SummaryInterval, 10*time.Second)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	l := &Log{
		cfg:     cfg,
		queue:   make(chan *request, 4096),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
		stale:   true,
	}
	l.macs.key = cfg.HMACKey
	if ts, ok := cfg.Store.(TreeStore); ok && !cfg.NoTree {
		l.trees = ts
	}
	l.limiter.init(cfg.AuthFailureRate, cfg.AuthFailureBurst, cfg.Now())
	go l.run()
	return l, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// ChainID returns the chain this log appends to.
func (l *Log) ChainID() string { return l.cfg.ChainID }

// Record durably appends events, in order, to the chain. It returns nil only
// once they are committed, or an error wrapping ErrUnavailable after at most
// CommitTimeout (or when ctx ends). After an error the events must be
// treated as not recorded, so what they describe must not happen; they may
// still have been committed if the timeout hit during the commit itself, in
// which case the log shows an intent that did not take place.
func (l *Log) Record(ctx context.Context, events ...Event) error {
	_, err := l.RecordIDs(ctx, events...)
	return err
}

// RecordIDs is Record that also returns the recorded events' ids, in order
// (a run's answer names them: see EventID).
func (l *Log) RecordIDs(ctx context.Context, events ...Event) ([]EventID, error) {
	if len(events) == 0 {
		return nil, nil
	}
	r := &request{done: make(chan error, 1)}
	if n := len(events); n <= len(r.inline) {
		r.events = r.inline[:n:n]
	} else {
		r.events = make([]Event, n)
	}
	for i, e := range events {
		p, err := l.prepare(e)
		if err != nil {
			return nil, err
		}
		r.events[i] = p
	}
	timer := l.startTimer()
	defer l.stopTimer(timer)
	select {
	case l.queue <- r:
	case <-timer.C:
		return nil, fmt.Errorf("%w: write queue full for %s", ErrUnavailable, l.cfg.CommitTimeout)
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	case <-l.closing:
		return nil, fmt.Errorf("%w: log closed", ErrUnavailable)
	}
	var err error
	select {
	case err = <-r.done:
	case <-timer.C:
		err = l.abandon(r, fmt.Errorf("%w: not committed within %s", ErrUnavailable, l.cfg.CommitTimeout))
	case <-ctx.Done():
		err = l.abandon(r, fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err()))
	case <-l.done:
		err = l.abandon(r, fmt.Errorf("%w: log closed", ErrUnavailable))
	}
	if err != nil {
		return nil, err
	}
	if c, ok := ctx.Value(idsKey{}).(*IDs); ok {
		c.add(r.ids)
	}
	return r.ids, nil
}

// startTimer returns a timer of CommitTimeout, reused from an earlier
// Record when one is free: making one costs a Record three allocations.
func (l *Log) startTimer() *time.Timer {
	if t, ok := l.timers.Get().(*time.Timer); ok {
		t.Reset(l.cfg.CommitTimeout)
		return t
	}
	return time.NewTimer(l.cfg.CommitTimeout)
}

// stopTimer stops t and keeps it for reuse. Since Go 1.23 a stopped
// timer's channel holds no stale expiry for the next Record to read.
func (l *Log) stopTimer(t *time.Timer) {
	t.Stop()
	l.timers.Put(t)
}

// abandon withdraws r unless the writer has already answered it.
func (l *Log) abandon(r *request, err error) error {
	r.state.CompareAndSwap(statePending, stateAbandoned)
	select {
	case res := <-r.done:
		return res
	default:
		return err
	}
}

// prepare returns the event as it will be stored: a copy with content
// transformed per mode, every field cut to its bound (see MaxFieldBytes),
// time set and normalized, chain fields cleared.
func (l *Log) prepare(e Event) (Event, error) {
	if e.Type == "" {
		return Event{}, errors.New("record audit event: empty type")
	}
	e.Content = l.cfg.ContentMode.transform(&l.macs, e.Content)
	if e.Time.IsZero() {
		e.Time = l.cfg.Now()
	}
	e.Seq, e.ChainID, e.PrevHash, e.Hash = 0, "", "", ""
	// Cut after normalizing: invalid UTF-8 grows as it becomes U+FFFD.
	// transform copied the content and normalize copies roles and scopes,
	// so bound may cut them in place.
	n, err := normalize(e)
	if err != nil {
		return Event{}, err
	}
	return bound(n), nil
}

// Ready reports whether the store accepts writes now (for /ready).
func (l *Log) Ready(ctx context.Context) error {
	select {
	case <-l.closing:
		return fmt.Errorf("%w: log closed", ErrUnavailable)
	default:
	}
	ctx, cancel := context.WithTimeout(ctx, l.cfg.CommitTimeout)
	defer cancel()
	if err := l.cfg.Store.Ping(ctx); err != nil {
		return fmt.Errorf("%w: ping store: %w", ErrUnavailable, err)
	}
	return nil
}

// Stats counts what the writer did since New.
type Stats struct {
	Events     int64 // committed events
	Batches    int64 // committed transactions
	Failures   int64 // failed transactions
	Suppressed int64 // authentication failures counted but not yet recorded
}

// Stats returns the writer's counters.
func (l *Log) Stats() Stats {
	return Stats{
		Events:     l.stats.events.Load(),
		Batches:    l.stats.batches.Load(),
		Failures:   l.stats.failures.Load(),
		Suppressed: l.limiter.pending(),
	}
}

// Close commits what is queued, records the suppressed-failure summary and a
// final checkpoint, and stops the writer. Record fails after Close.
func (l *Log) Close() error {
	l.once.Do(func() { close(l.closing) })
	<-l.done
	return nil
}
