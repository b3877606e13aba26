package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehousehq/gatehouse/internal/session"
	"github.com/gatehousehq/gatehouse/internal/store/storesql"
)

// SessionStore keeps sessions in PostgreSQL.
type SessionStore struct {
	pool *pgxpool.Pool
	now  func() time.Time
	// pruned is the rate window whose predecessors were last deleted.
	pruned atomic.Int64
}

var _ session.Store = (*SessionStore)(nil)

// OpenSessions connects to dsn and migrates the session tables.
func OpenSessions(ctx context.Context, dsn string) (*SessionStore, error) {
	pool, err := openPool(ctx, dsn, "sessions")
	if err != nil {
		return nil, err
	}
	return &SessionStore{pool: pool, now: time.Now}, nil
}

// Close closes the pool, waiting at most CloseTimeout for it.
func (s *SessionStore) Close() error {
	closePool(s.pool)
	return nil
}

// Create stores a new session. An empty ID is filled with a random one and
// zero times with now.
func (s *SessionStore) Create(ctx context.Context, ss *session.Session) error {
	if err := ss.FillNew(s.now()); err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO sessions (id, subject, agent, created_ns, updated_ns)
			VALUES ($1, $2, $3, $4, $5)`, ss.ID, ss.Subject, ss.Agent, ss.Created.UnixNano(), ss.Updated.UnixNano()); err != nil {
			return fmt.Errorf("create session: %w", err)
		}
		return insertMessages(ctx, tx, ss.ID, 0, ss.Messages)
	})
}

func insertMessages(ctx context.Context, tx pgx.Tx, id string, first int, msgs []session.Message) error {
	for i, m := range msgs {
		m.Time = m.Time.UTC()
		body, err := json.Marshal(m)
		if err != nil {
			return fmt.Errorf("encode session message: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO session_messages (session_id, idx, body) VALUES ($1, $2, $3)`,
			id, first+i, string(body)); err != nil {
			return fmt.Errorf("store session message: %w", err)
		}
	}
	return nil
}

// Get returns the session id if subject owns it, else session.ErrNotFound.
func (s *SessionStore) Get(ctx context.Context, id, subject string) (*session.Session, error) {
	ss := session.Session{ID: id}
	var created, updated int64
	err := s.pool.QueryRow(ctx, `SELECT subject, agent, created_ns, updated_ns FROM sessions
		WHERE id = $1 AND subject = $2`, id, subject).Scan(&ss.Subject, &ss.Agent, &created, &updated)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, session.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get session: %w", err)
	}
	ss.Created, ss.Updated = time.Unix(0, created).UTC(), time.Unix(0, updated).UTC()
	rows, err := s.pool.Query(ctx, `SELECT body FROM session_messages WHERE session_id = $1 ORDER BY idx`, id)
	if err != nil {
		return nil, fmt.Errorf("get session messages: %w", err)
	}
	defer rows.Close()
	if ss.Messages, err = storesql.CollectMessages(rows); err != nil {
		return nil, err
	}
	return &ss, nil
}

// Append adds messages to a session subject owns if its history is within
// lim; otherwise it changes nothing and returns session.ErrNotFound or an
// error wrapping session.ErrFull. The session's row is locked first (FOR
// UPDATE), so concurrent appends to one session — from this process or
// another replica — check the bound one after the other, each against the
// history the previous one committed.
func (s *SessionStore) Append(ctx context.Context, id, subject string, lim session.Limits, msgs ...session.Message) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var locked string
		err := tx.QueryRow(ctx, `SELECT id FROM sessions WHERE id = $1 AND subject = $2 FOR UPDATE`,
			id, subject).Scan(&locked)
		if errors.Is(err, pgx.ErrNoRows) {
			return session.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("append to session: %w", err)
		}
		var count, next int
		if err := tx.QueryRow(ctx, `SELECT count(*), COALESCE(MAX(idx) + 1, 0) FROM session_messages
			WHERE session_id = $1`, id).Scan(&count, &next); err != nil {
			return fmt.Errorf("append to session: %w", err)
		}
		var size int64
		if lim.MaxBytes > 0 && count > 0 {
			// The bytes are counted as session.Size counts them, from the
			// messages as stored.
			rows, err := tx.Query(ctx, `SELECT body FROM session_messages WHERE session_id = $1 ORDER BY idx`, id)
			if err != nil {
				return fmt.Errorf("append to session: %w", err)
			}
			have, err := storesql.CollectMessages(rows)
			rows.Close()
			if err != nil {
				return err
			}
			size = session.Size(have)
		}
		if err := lim.CheckSize(count, size); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE sessions SET updated_ns = $1 WHERE id = $2`, s.now().UnixNano(), id); err != nil {
			return fmt.Errorf("append to session: %w", err)
		}
		return insertMessages(ctx, tx, id, next, msgs)
	})
}
