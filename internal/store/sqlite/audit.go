package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
	"unsafe"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/store/storesql"
)

// AuditStore is the audit log in one SQLite file.
type AuditStore struct {
	db *sql.DB
	w  *writer

	// Guarded by w's lock: the last chain id, hash, subject and trace id
	// Append bound, and the event types and decisions, boxed (see box and
	// names).
	chain, hash, subject, trace box
	names                       names
}

var _ audit.Store = (*AuditStore)(nil)

// auditCheckpointEvery is how many commits go between the audit log's
// background checkpoints: a commit writes about four B-tree pages, so some
// 256 WAL frames, a quarter of SQLite's own default mark (each checkpoint
// holds the write lock, and a short one holds it briefly).
const auditCheckpointEvery = 64

// OpenAudit opens (creating and migrating) the audit log at path.
func OpenAudit(ctx context.Context, path string) (*AuditStore, error) {
	db, err := openDB(ctx, path, "audit")
	if err != nil {
		return nil, err
	}
	return &AuditStore{db: db, w: newWriter(db, auditCheckpointEvery)}, nil
}

// OpenAuditExisting opens the audit log at path to read it (the audit
// commands): the file must exist and be fully migrated; nothing is written.
func OpenAuditExisting(ctx context.Context, path string) (*AuditStore, error) {
	db, err := openExisting(ctx, path, "audit")
	if err != nil {
		return nil, err
	}
	return &AuditStore{db: db, w: newWriter(db, auditCheckpointEvery)}, nil
}

// Close closes the database.
func (s *AuditStore) Close() error {
	s.w.close()
	return s.db.Close()
}

// Append stores events in one fsync'd transaction.
func (s *AuditStore) Append(ctx context.Context, events []audit.Sealed) error {
	return s.w.inTx(ctx, func(tx txn) error {
		err := insertEvents.exec(tx, len(events), func(i int, args []any) ([]any, error) {
			e := &events[i]
			// An event's prev_hash is the hash of the one before it,
			// bound just before (or by the previous Append).
			prev := s.hash.of(e.PrevHash)
			var trace any // NULL without one
			if e.TraceID != "" {
				trace = s.trace.of(e.TraceID)
			}
			return append(args, s.chain.of(e.ChainID), e.Seq, e.Time.UnixNano(), s.names.of(e.Type), s.subject.of(e.Subject),
				s.names.of(e.Decision), prev, s.hash.of(e.Hash), textOf(e.Canonical), trace), nil
		})
		if err != nil {
			return fmt.Errorf("append audit events %s/%d-%d: %w", events[0].ChainID, events[0].Seq, events[len(events)-1].Seq, err)
		}
		n := 0
		for i := range events {
			n += len(events[i].Tree)
		}
		ev, h := 0, 0 // the cursor: events[ev].Tree[h] is the next row
		if err := insertTree.exec(tx, n, func(_ int, args []any) ([]any, error) {
			for h == len(events[ev].Tree) {
				ev, h = ev+1, 0
			}
			e := &events[ev]
			x := &e.Tree[h]
			h++
			return append(args, s.chain.of(e.ChainID), x.Index, x.Hash[:]), nil
		}); err != nil {
			return fmt.Errorf("append audit tree: %w", err)
		}
		return nil
	})
}

// box keeps the last string it boxed as an argument: a batch's rows are
// nearly always of one chain, each event's prev_hash is the hash bound
// just before it, and the events of one Record share their subject and
// trace id, so each is boxed once rather than per row.
type box struct {
	s   string
	val any
}

func (b *box) of(s string) any {
	if b.val == nil || s != b.s {
		b.s, b.val = s, s
	}
	return b.val
}

// names boxes the few distinct event types and decisions once each, up
// to maxNames of them (a type is any string a caller names; past the
// bound each is boxed per row again).
type names map[string]any

const maxNames = 64

func (n *names) of(s string) any {
	if v, ok := (*n)[s]; ok {
		return v
	}
	if *n == nil {
		*n = names{}
	}
	if len(*n) >= maxNames {
		return s
	}
	var v any = s
	(*n)[s] = v
	return v
}

// textOf is b as the text SQLite stores, without copying it: the driver
// copies a text argument into SQLite's memory as it binds it, and the
// event's encoding does not change while Append runs.
func textOf(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

var insertTree = newRowInsert("audit_tree", "chain_id", "idx", "hash")

var insertEvents = newRowInsert("audit_events",
	"chain_id", "seq", "time_ns", "type", "subject", "decision", "prev_hash", "hash", "body", "trace_id")

// Head returns the last event of a chain.
func (s *AuditStore) Head(ctx context.Context, chainID string) (audit.Event, bool, error) {
	row := s.db.QueryRowContext(ctx, `SELECT `+storesql.EventColumns+` FROM audit_events
		WHERE chain_id = ? ORDER BY seq DESC LIMIT 1`, chainID)
	en, err := storesql.ScanEvent(row)
	if errors.Is(err, sql.ErrNoRows) {
		return audit.Event{}, false, nil
	}
	if err != nil {
		return audit.Event{}, false, fmt.Errorf("read chain head: %w", err)
	}
	return en.Event, true, nil
}

// List returns events matching f.
func (s *AuditStore) List(ctx context.Context, f audit.Filter) ([]audit.Entry, error) {
	q, args := storesql.ListQuery(f, func(int) string { return "?" })
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	defer rows.Close()
	return storesql.CollectEvents(rows)
}

// Scan calls fn for each event at or after since, by chain and seq.
func (s *AuditStore) Scan(ctx context.Context, since time.Time, fn func(audit.Event) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT `+storesql.EventColumns+` FROM audit_events
		WHERE time_ns >= ? ORDER BY chain_id, seq`, storesql.SinceNS(since))
	if err != nil {
		return fmt.Errorf("scan audit events: %w", err)
	}
	defer rows.Close()
	return storesql.EachEvent(rows, func(en audit.Entry) error { return fn(en.Event) })
}

// SaveCheckpoint stores a checkpoint durably.
func (s *AuditStore) SaveCheckpoint(ctx context.Context, c audit.Checkpoint) error {
	return s.w.inTx(ctx, func(tx txn) error {
		if _, err := tx.exec(`INSERT INTO audit_checkpoints
			(chain_id, seq, hash, time_ns, public_key, signature) VALUES (?, ?, ?, ?, ?, ?)`,
			c.ChainID, c.Seq, c.Hash, c.Time.UnixNano(), c.PublicKey, c.Signature); err != nil {
			return fmt.Errorf("save checkpoint: %w", err)
		}
		return nil
	})
}

// Checkpoints returns the stored checkpoints, oldest first.
func (s *AuditStore) Checkpoints(ctx context.Context) ([]audit.Checkpoint, error) {
	rows, err := s.db.QueryContext(ctx, storesql.CheckpointsQuery)
	if err != nil {
		return nil, fmt.Errorf("list checkpoints: %w", err)
	}
	defer rows.Close()
	return storesql.CollectCheckpoints(rows)
}

// Ping takes and releases the write lock: it fails when another connection
// holds the file locked.
func (s *AuditStore) Ping(ctx context.Context) error {
	return s.w.inTx(ctx, func(txn) error { return nil })
}
