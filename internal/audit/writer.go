package audit

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// run is the single writer. While it commits one group (an fsync), new
// requests queue up; the next loop takes all of them at once.
func (l *Log) run() {
	defer close(l.done)
	var checkC <-chan time.Time
	switch {
	case !l.signing():
	case l.cfg.CheckpointTicks != nil:
		checkC = l.cfg.CheckpointTicks
	default:
		t := time.NewTicker(l.cfg.CheckpointInterval)
		defer t.Stop()
		checkC = t.C
	}
	summary := time.NewTicker(l.cfg.SummaryInterval)
	defer summary.Stop()
	for {
		select {
		case r := <-l.queue:
			l.commit(l.collect(r))
		case <-checkC:
			// A head already signed is not signed again: an idle log would
			// add the same checkpoint every interval, for ever.
			if l.sinceCheck > 0 || !l.signedHead {
				l.checkpoint()
			}
		case <-summary.C:
			l.recordSuppressed()
		case <-l.closing:
			for {
				select {
				case r := <-l.queue:
					l.commit(l.collect(r))
					continue
				default:
				}
				break
			}
			l.recordSuppressed()
			if l.signing() && (l.sinceCheck > 0 || !l.signedHead) {
				l.checkpoint()
			}
			return
		}
	}
}

// collect takes first and whatever else is queued, up to MaxBatch events,
// keeping only the requests whose callers are still waiting.
func (l *Log) collect(first *request) []*request {
	var batch []*request
	n := 0
	take := func(r *request) {
		if r.state.CompareAndSwap(statePending, stateTaken) {
			batch = append(batch, r)
			n += len(r.events)
		}
	}
	take(first)
	for n < l.cfg.MaxBatch {
		select {
		case r := <-l.queue:
			take(r)
			continue
		default:
		}
		break
	}
	return batch
}

// commit chains the batch's events onto the head and appends them in one
// transaction, then answers every request of the batch.
func (l *Log) commit(batch []*request) {
	if len(batch) == 0 {
		return
	}
	err := l.appendBatch(batch)
	for _, r := range batch {
		r.done <- err
	}
	if err == nil && l.signing() && l.sinceCheck >= l.cfg.CheckpointEvery {
		l.checkpoint()
	}
}

// maxKeptScratch bounds the events whose room the writer keeps between
// batches: enough for the groups of a busy log, not a burst's worth.
const maxKeptScratch = 256

func (l *Log) appendBatch(batch []*request) error {
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.CommitTimeout)
	defer cancel()
	if err := l.loadHead(ctx); err != nil {
		l.stats.failures.Add(1)
		return err
	}
	n := 0
	for _, r := range batch {
		n += len(r.events)
	}
	// The batch is built in the writer's reused buffers (the store keeps
	// none of it past Append) and extends a copy of the tree, which
	// replaces the tree only once the batch is committed.
	events := slices.Grow(l.scratch.events[:0], n)
	hashes := l.scratch.hashes[:0]
	defer func() {
		clear(events) // no event kept alive by the buffer
		if cap(events) <= maxKeptScratch {
			l.scratch.events, l.scratch.hashes = events[:0], hashes[:0]
		} else {
			l.scratch.events, l.scratch.hashes = nil, nil
		}
	}()
	var tree *frontier
	if l.tree != nil {
		if l.scratch.tree == nil {
			l.scratch.tree = &frontier{}
		}
		tree = l.scratch.tree
		tree.set(l.tree)
	}
	ids := make([]EventID, n) // one allocation for the batch's answers
	seq, prev := l.seq, l.hash
	for _, r := range batch {
		r.ids, ids = ids[:len(r.events):len(r.events)], ids[len(r.events):]
		for i, e := range r.events {
			seq++
			e.ChainID, e.Seq, e.PrevHash = l.cfg.ChainID, seq, prev
			s, sum, err := l.scratch.sealer.seal(e)
			if err != nil {
				return fmt.Errorf("%w: %w", ErrUnavailable, err)
			}
			if tree != nil {
				start := len(hashes)
				hashes = tree.addLeaf(hashes, leafHash(&sum))
				s.Tree = hashes[start:len(hashes):len(hashes)]
			}
			prev = s.Hash
			r.ids[i] = EventID{ChainID: l.cfg.ChainID, Seq: seq}
			events = append(events, s)
		}
	}
	if err := l.cfg.Store.Append(ctx, events); err != nil {
		// The commit may or may not have happened (a lost acknowledgement):
		// the store, not memory, says where the chain continues.
		l.stale, l.signedHead = true, false // the head may have moved unsigned
		l.stats.failures.Add(1)
		return fmt.Errorf("%w: append events: %w", ErrUnavailable, err)
	}
	l.seq, l.hash = seq, prev
	if tree != nil {
		l.tree, l.scratch.tree = tree, l.tree
	}
	l.sinceCheck += len(events)
	l.stats.events.Add(int64(len(events)))
	l.stats.batches.Add(1)
	return nil
}

// loadHead reads the chain's head from the store when the one in memory
// cannot be trusted (at start and after a failed commit).
func (l *Log) loadHead(ctx context.Context) error {
	if !l.stale {
		return nil
	}
	e, ok, err := l.cfg.Store.Head(ctx, l.cfg.ChainID)
	if err != nil {
		return fmt.Errorf("%w: read chain head: %w", ErrUnavailable, err)
	}
	l.seq, l.hash = 0, GenesisHash
	if ok {
		l.seq, l.hash = e.Seq, e.Hash
	}
	if l.trees != nil {
		f, err := loadFrontier(ctx, l.trees, l.cfg.ChainID)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		if f.size != l.seq {
			return fmt.Errorf("%w: chain %s has %d events but its tree %d leaves", ErrUnavailable, l.cfg.ChainID, l.seq, f.size)
		}
		l.tree = f
	}
	l.stale = false
	return nil
}

// signing says whether the writer makes checkpoints of either kind.
func (l *Log) signing() bool {
	return l.cfg.CheckpointKey != nil || (l.cfg.NoteKey != nil && l.trees != nil)
}

// checkpoint signs and stores the current head of a non-empty chain.
func (l *Log) checkpoint() {
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.CommitTimeout)
	defer cancel()
	if err := l.loadHead(ctx); err != nil {
		l.cfg.Logger.Error("audit checkpoint", "err", err)
		return
	}
	if l.seq == 0 {
		return
	}
	if l.cfg.CheckpointKey != nil {
		c := SignCheckpoint(l.cfg.CheckpointKey, l.cfg.ChainID, l.seq, l.hash, l.cfg.Now())
		if err := l.cfg.Store.SaveCheckpoint(ctx, c); err != nil {
			l.cfg.Logger.Error("audit checkpoint", "err", fmt.Errorf("save checkpoint: %w", err))
			return
		}
	}
	if err := l.noteCheckpoint(ctx); err != nil {
		l.cfg.Logger.Error("audit checkpoint", "err", err)
		return
	}
	l.sinceCheck, l.signedHead = 0, true
}

// noteCheckpoint signs and stores the tree's checkpoint, unless one of
// this size is stored already.
func (l *Log) noteCheckpoint(ctx context.Context) error {
	if l.cfg.NoteKey == nil || l.tree == nil || l.tree.size <= l.noted {
		return nil
	}
	root, err := l.tree.root()
	if err != nil {
		return fmt.Errorf("tree root: %w", err)
	}
	n, err := SignNote(l.cfg.NoteKey, l.cfg.ChainID, l.tree.size, root)
	if err != nil {
		return err
	}
	if err := l.trees.SaveNote(ctx, n); err != nil {
		return fmt.Errorf("save note checkpoint: %w", err)
	}
	l.noted = n.Size
	if l.cfg.OnNote != nil {
		l.cfg.OnNote(n)
	}
	return nil
}

// recordSuppressed records the count of authentication failures dropped by
// the bound since the last summary. On failure the count is kept for later.
func (l *Log) recordSuppressed() {
	n := l.limiter.takeDropped()
	if n == 0 {
		return
	}
	e, err := l.prepare(Event{
		Type:    TypeAuthSuppressed,
		Outcome: "suppressed",
		Reason:  "authentication failures over the recording bound",
		Count:   n,
	})
	if err == nil {
		r := &request{events: []Event{e}, done: make(chan error, 1)}
		r.state.Store(stateTaken)
		l.commit([]*request{r})
		err = <-r.done
	}
	if err != nil {
		l.limiter.addDropped(n)
		l.cfg.Logger.Error("audit suppressed failures", "err", err, "count", n)
	}
}
