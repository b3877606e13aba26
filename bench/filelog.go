package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/gatehousehq/gatehouse/internal/audit"
)

// fileLog is G-filelog's audit store: the cheapest durable append this
// disk offers. A group commit is one write into a preallocated, zero-filled
// file and one fdatasync; the blocks exist and the size does not change, so
// the flush carries no metadata. It keeps nothing a user could read back (no
// index, no List or Scan), so no config can select it: the harness wires it
// to show the ceiling of any durable audit store on this machine, next to
// G's SQLite log.
type fileLog struct {
	mu    sync.Mutex
	f     *os.File
	off   int64 // end of the written part
	size  int64 // end of the zero-filled part
	chunk int64 // how much to zero-fill ahead at a time
	buf   []byte
	heads map[string]audit.Event
}

var _ audit.Store = (*fileLog)(nil)

// fileLogChunk is how much the harness zero-fills ahead at a time: more
// than a default run writes.
const fileLogChunk = 256 << 20

var errNotKept = errors.New("the harness file log keeps no index to read")

// openFileLog creates the file at path and zero-fills its first chunk.
func openFileLog(path string, chunk int64) (*fileLog, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	l := &fileLog{f: f, chunk: chunk, heads: map[string]audit.Event{}}
	if err := l.grow(chunk); err != nil {
		f.Close()
		return nil, err
	}
	return l, nil
}

// grow zero-fills the file up to at least n more bytes past off and makes
// the new size durable.
func (l *fileLog) grow(n int64) error {
	zero := make([]byte, min(n, 1<<20))
	for l.size < l.off+n {
		if _, err := l.f.WriteAt(zero, l.size); err != nil {
			return fmt.Errorf("fill file log: %w", err)
		}
		l.size += int64(len(zero))
	}
	return l.f.Sync()
}

// write appends buf durably: one write and one fdatasync.
func (l *fileLog) write(buf []byte) error {
	if l.off+int64(len(buf)) > l.size {
		if err := l.grow(max(l.chunk, int64(len(buf)))); err != nil {
			return err
		}
	}
	if _, err := l.f.WriteAt(buf, l.off); err != nil {
		return fmt.Errorf("write file log: %w", err)
	}
	if err := syscall.Fdatasync(int(l.f.Fd())); err != nil {
		return fmt.Errorf("fdatasync file log: %w", err)
	}
	l.off += int64(len(buf))
	return nil
}

// Append writes the events' canonical encodings, one per line.
func (l *fileLog) Append(_ context.Context, events []audit.Sealed) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = l.buf[:0]
	for _, e := range events {
		l.buf = append(append(l.buf, e.Canonical...), '\n')
	}
	if err := l.write(l.buf); err != nil {
		return err
	}
	for _, e := range events {
		l.heads[e.ChainID] = e.Event
	}
	return nil
}

// SaveCheckpoint writes the checkpoint as a JSON line.
func (l *fileLog) SaveCheckpoint(_ context.Context, c audit.Checkpoint) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.write(append(b, '\n'))
}

// Head returns the last event appended to a chain by this process.
func (l *fileLog) Head(_ context.Context, chainID string) (audit.Event, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.heads[chainID]
	return e, ok, nil
}

func (l *fileLog) List(context.Context, audit.Filter) ([]audit.Entry, error) { return nil, errNotKept }

func (l *fileLog) Scan(context.Context, time.Time, func(audit.Event) error) error { return errNotKept }

func (l *fileLog) Checkpoints(context.Context) ([]audit.Checkpoint, error) { return nil, errNotKept }

func (l *fileLog) Ping(context.Context) error { return nil }

func (l *fileLog) Close() error { return l.f.Close() }
