package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/store/storesql"
)

// AuditStore is the audit log in PostgreSQL.
type AuditStore struct {
	pool *pgxpool.Pool
}

var _ audit.Store = (*AuditStore)(nil)

// OpenAudit connects to dsn and migrates the audit tables.
func OpenAudit(ctx context.Context, dsn string) (*AuditStore, error) {
	pool, err := openPool(ctx, dsn, "audit")
	if err != nil {
		return nil, err
	}
	return &AuditStore{pool: pool}, nil
}

// OpenAuditExisting opens the audit log at dsn to read it (the audit
// commands): its tables must exist and be fully migrated; nothing is written.
func OpenAuditExisting(ctx context.Context, dsn string) (*AuditStore, error) {
	pool, err := openExisting(ctx, dsn, "audit")
	if err != nil {
		return nil, err
	}
	return &AuditStore{pool: pool}, nil
}

// Close closes the pool, waiting at most CloseTimeout for it.
func (s *AuditStore) Close() error {
	closePool(s.pool)
	return nil
}

// Append stores events in one transaction; PostgreSQL's commit is durable
// (the pool turns synchronous_commit=off back on: see durableCommits).
func (s *AuditStore) Append(ctx context.Context, events []audit.Sealed) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, e := range events {
			b.Queue(`INSERT INTO audit_events
				(chain_id, seq, time_ns, type, subject, decision, prev_hash, hash, body, trace_id)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
				e.ChainID, e.Seq, e.Time.UnixNano(), e.Type, e.Subject, e.Decision, e.PrevHash, e.Hash, string(e.Canonical), storesql.Nullable(e.TraceID))
			for _, h := range e.Tree {
				b.Queue(`INSERT INTO audit_tree (chain_id, idx, hash) VALUES ($1, $2, $3)`, e.ChainID, h.Index, h.Hash[:])
			}
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("append audit events: %w", err)
		}
		return nil
	})
}

// Head returns the last event of a chain.
func (s *AuditStore) Head(ctx context.Context, chainID string) (audit.Event, bool, error) {
	en, err := storesql.ScanEvent(s.pool.QueryRow(ctx, `SELECT `+storesql.EventColumns+` FROM audit_events
		WHERE chain_id = $1 ORDER BY seq DESC LIMIT 1`, chainID))
	if errors.Is(err, pgx.ErrNoRows) {
		return audit.Event{}, false, nil
	}
	if err != nil {
		return audit.Event{}, false, fmt.Errorf("read chain head: %w", err)
	}
	return en.Event, true, nil
}

// List returns events matching f. Ids come from a sequence: with several
// writers, an id can become visible after a larger one.
func (s *AuditStore) List(ctx context.Context, f audit.Filter) ([]audit.Entry, error) {
	q, args := storesql.ListQuery(f, func(n int) string { return "$" + strconv.Itoa(n) })
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	defer rows.Close()
	return storesql.CollectEvents(rows)
}

var _ audit.Follower = (*AuditStore)(nil)

// Follow returns events after cursor ("txid:id"; empty starts now) whose
// transaction is older than every transaction still open, ordered by
// (txid, id), and the cursor to continue from. A row whose transaction
// commits late is returned late, never skipped; a transaction left open
// elsewhere in the cluster holds the follower back until it ends (and, if
// open when following starts, makes the first batch reach back to it).
// Rows written before migration 002 have no txid and are never returned.
func (s *AuditStore) Follow(ctx context.Context, cursor string, limit int) ([]audit.Entry, string, error) {
	if cursor == "" {
		var xmin string
		if err := s.pool.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text`).Scan(&xmin); err != nil {
			return nil, "", fmt.Errorf("follow audit events: %w", err)
		}
		cursor = xmin + ":0"
	}
	txid, idText, ok := strings.Cut(cursor, ":")
	id, err := strconv.ParseInt(idText, 10, 64)
	if !ok || err != nil || txid == "" || strings.Trim(txid, "0123456789") != "" {
		return nil, "", fmt.Errorf("follow audit events: bad cursor %q", cursor)
	}
	if limit <= 0 {
		return nil, cursor, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT txid::text, `+storesql.EventColumns+` FROM audit_events
		WHERE txid IS NOT NULL AND (txid, id) > (($1::text)::xid8, $2)
			AND txid < pg_snapshot_xmin(pg_current_snapshot())
		ORDER BY txid, id LIMIT $3`, txid, id, limit)
	if err != nil {
		return nil, "", fmt.Errorf("follow audit events: %w", err)
	}
	defer rows.Close()
	var out []audit.Entry
	var rowTxid string
	err = storesql.EachEvent(withTxid{rows, &rowTxid}, func(en audit.Entry) error {
		out = append(out, en)
		cursor = rowTxid + ":" + strconv.FormatInt(en.ID, 10)
		return nil
	})
	return out, cursor, err
}

// withTxid reads the txid column in front of the event columns.
type withTxid struct {
	pgx.Rows
	txid *string
}

func (r withTxid) Scan(dest ...any) error { return r.Rows.Scan(append([]any{r.txid}, dest...)...) }

// Scan calls fn for each event at or after since, by chain and seq.
func (s *AuditStore) Scan(ctx context.Context, since time.Time, fn func(audit.Event) error) error {
	rows, err := s.pool.Query(ctx, `SELECT `+storesql.EventColumns+` FROM audit_events
		WHERE time_ns >= $1 ORDER BY chain_id, seq`, storesql.SinceNS(since))
	if err != nil {
		return fmt.Errorf("scan audit events: %w", err)
	}
	defer rows.Close()
	return storesql.EachEvent(rows, func(en audit.Entry) error { return fn(en.Event) })
}

// SaveCheckpoint stores a checkpoint.
func (s *AuditStore) SaveCheckpoint(ctx context.Context, c audit.Checkpoint) error {
	if _, err := s.pool.Exec(ctx, `INSERT INTO audit_checkpoints
		(chain_id, seq, hash, time_ns, public_key, signature) VALUES ($1, $2, $3, $4, $5, $6)`,
		c.ChainID, c.Seq, c.Hash, c.Time.UnixNano(), c.PublicKey, c.Signature); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	return nil
}

// Checkpoints returns the stored checkpoints, oldest first.
func (s *AuditStore) Checkpoints(ctx context.Context) ([]audit.Checkpoint, error) {
	rows, err := s.pool.Query(ctx, storesql.CheckpointsQuery)
	if err != nil {
		return nil, fmt.Errorf("list checkpoints: %w", err)
	}
	defer rows.Close()
	return storesql.CollectCheckpoints(rows)
}

// Ping reports whether the server is reachable and writable.
func (s *AuditStore) Ping(ctx context.Context) error { return ping(ctx, s.pool) }
