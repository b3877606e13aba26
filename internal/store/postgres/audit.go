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

// Close closes the pool.
func (s *AuditStore) Close() error {
	s.pool.Close()
	return nil
}

// Append stores events in one transaction; PostgreSQL's commit is durable
// (synchronous_commit, the server default, is expected to stay on).
func (s *AuditStore) Append(ctx context.Context, events []audit.Event) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, e := range events {
			body, err := audit.EncodeCanonical(e)
			if err != nil {
				return err
			}
			b.Queue(`INSERT INTO audit_events
				(chain_id, seq, time_ns, type, subject, decision, prev_hash, hash, body)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
				e.ChainID, e.Seq, e.Time.UnixNano(), e.Type, e.Subject, e.Decision, e.PrevHash, e.Hash, string(body))
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("append audit events: %w", err)
		}
		return nil
	})
}

const eventColumns = `id, chain_id, seq, time_ns, type, subject, decision, prev_hash, hash, body`

// scanEvent reads a row of eventColumns. The columns win over the body, so
// an edit of either one shows in the hash.
func scanEvent(row pgx.Row) (audit.Entry, error) {
	var (
		en     audit.Entry
		c      audit.Event
		timeNS int64
		body   string
	)
	if err := row.Scan(&en.ID, &c.ChainID, &c.Seq, &timeNS, &c.Type, &c.Subject, &c.Decision,
		&c.PrevHash, &c.Hash, &body); err != nil {
		return en, fmt.Errorf("read audit event: %w", err)
	}
	e, err := audit.DecodeCanonical([]byte(body))
	if err != nil {
		return en, fmt.Errorf("read audit event %d: %w", en.ID, err)
	}
	e.ChainID, e.Seq, e.Time = c.ChainID, c.Seq, time.Unix(0, timeNS).UTC()
	e.Type, e.Subject, e.Decision = c.Type, c.Subject, c.Decision
	e.PrevHash, e.Hash = c.PrevHash, c.Hash
	en.Event = e
	return en, nil
}

// Head returns the last event of a chain.
func (s *AuditStore) Head(ctx context.Context, chainID string) (audit.Event, bool, error) {
	en, err := scanEvent(s.pool.QueryRow(ctx, `SELECT `+eventColumns+` FROM audit_events
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
	var (
		where []string
		args  []any
	)
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, cond+" $"+strconv.Itoa(len(args)))
	}
	if f.Subject != "" {
		add("subject =", f.Subject)
	}
	if f.Type != "" {
		add("type =", f.Type)
	}
	if f.Decision != "" {
		add("decision =", f.Decision)
	}
	if !f.Since.IsZero() {
		add("time_ns >=", f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		add("time_ns <", f.Until.UnixNano())
	}
	if f.AfterID > 0 {
		add("id >", f.AfterID)
	}
	if f.BeforeID > 0 {
		add("id <", f.BeforeID)
	}
	q := `SELECT ` + eventColumns + ` FROM audit_events`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	if f.Desc {
		q += " ORDER BY id DESC"
	} else {
		q += " ORDER BY id"
	}
	limit := f.Limit
	if limit <= 0 {
		limit = audit.DefaultListLimit
	}
	args = append(args, limit)
	q += " LIMIT $" + strconv.Itoa(len(args))
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	defer rows.Close()
	var out []audit.Entry
	for rows.Next() {
		en, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, en)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	return out, nil
}

// Scan calls fn for each event at or after since, by chain and seq.
func (s *AuditStore) Scan(ctx context.Context, since time.Time, fn func(audit.Event) error) error {
	var sinceNS int64 = -1 << 63
	if !since.IsZero() {
		sinceNS = since.UnixNano()
	}
	rows, err := s.pool.Query(ctx, `SELECT `+eventColumns+` FROM audit_events
		WHERE time_ns >= $1 ORDER BY chain_id, seq`, sinceNS)
	if err != nil {
		return fmt.Errorf("scan audit events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		en, err := scanEvent(rows)
		if err != nil {
			return err
		}
		if err := fn(en.Event); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("scan audit events: %w", err)
	}
	return nil
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
	rows, err := s.pool.Query(ctx, `SELECT chain_id, seq, hash, time_ns, public_key, signature
		FROM audit_checkpoints ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list checkpoints: %w", err)
	}
	defer rows.Close()
	var out []audit.Checkpoint
	for rows.Next() {
		var (
			c  audit.Checkpoint
			ns int64
		)
		if err := rows.Scan(&c.ChainID, &c.Seq, &c.Hash, &ns, &c.PublicKey, &c.Signature); err != nil {
			return nil, fmt.Errorf("list checkpoints: %w", err)
		}
		c.Time = time.Unix(0, ns).UTC()
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list checkpoints: %w", err)
	}
	return out, nil
}

// Ping reports whether the server is reachable and writable.
func (s *AuditStore) Ping(ctx context.Context) error { return ping(ctx, s.pool) }
