package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/gatehousehq/gatehouse/internal/session"
	"github.com/gatehousehq/gatehouse/internal/store/storesql"
)

// SessionStore keeps sessions in one SQLite file.
type SessionStore struct {
	db  *sql.DB
	w   *writer
	now func() time.Time
	// pruned is the rate window whose predecessors were last deleted.
	pruned atomic.Int64
}

var _ session.Store = (*SessionStore)(nil)

// sessionCheckpointEvery is how many commits go between the session
// store's background checkpoints: a few pages each, so a small WAL that
// is cheap to copy.
const sessionCheckpointEvery = 16

// OpenSessions opens (creating and migrating) the session store at path.
func OpenSessions(ctx context.Context, path string) (*SessionStore, error) {
	db, err := openDB(ctx, path, "sessions")
	if err != nil {
		return nil, err
	}
	return &SessionStore{db: db, w: newWriter(db, sessionCheckpointEvery), now: time.Now}, nil
}

// Close closes the database.
func (s *SessionStore) Close() error {
	s.w.close()
	return s.db.Close()
}

// Create stores a new session. An empty ID is filled with a random one and
// zero times with now.
func (s *SessionStore) Create(ctx context.Context, ss *session.Session) error {
	if err := ss.FillNew(s.now()); err != nil {
		return err
	}
	return s.w.inTx(ctx, func(tx txn) error {
		if _, err := tx.exec(`INSERT INTO sessions (id, subject, agent, created_ns, updated_ns)
			VALUES (?, ?, ?, ?, ?)`, ss.ID, ss.Subject, ss.Agent, ss.Created.UnixNano(), ss.Updated.UnixNano()); err != nil {
			return fmt.Errorf("create session: %w", err)
		}
		return insertMessages(tx, ss.ID, 0, ss.Messages)
	})
}

func insertMessages(tx txn, id string, first int, msgs []session.Message) error {
	err := insertMessageRows.exec(tx, len(msgs), func(i int, args []any) ([]any, error) {
		m := msgs[i]
		m.Time = m.Time.UTC()
		body, err := json.Marshal(m)
		if err != nil {
			return nil, fmt.Errorf("encode session message: %w", err)
		}
		return append(args, id, first+i, string(body)), nil
	})
	if err != nil {
		return fmt.Errorf("store session messages: %w", err)
	}
	return nil
}

var insertMessageRows = newRowInsert("session_messages", "session_id", "idx", "body")

// Get returns the session id if subject owns it, else session.ErrNotFound.
func (s *SessionStore) Get(ctx context.Context, id, subject string) (*session.Session, error) {
	ss := session.Session{ID: id}
	var created, updated int64
	err := s.db.QueryRowContext(ctx, `SELECT subject, agent, created_ns, updated_ns FROM sessions
		WHERE id = ? AND subject = ?`, id, subject).Scan(&ss.Subject, &ss.Agent, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, session.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get session: %w", err)
	}
	ss.Created, ss.Updated = time.Unix(0, created).UTC(), time.Unix(0, updated).UTC()
	rows, err := s.db.QueryContext(ctx, `SELECT body FROM session_messages WHERE session_id = ? ORDER BY idx`, id)
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
// error wrapping session.ErrFull. Write transactions run one at a time
// (BEGIN IMMEDIATE on the one write connection), so the bound is checked
// against the history as it is when the messages go in.
func (s *SessionStore) Append(ctx context.Context, id, subject string, lim session.Limits, msgs ...session.Message) error {
	return s.w.inTx(ctx, func(tx txn) error {
		res, err := tx.exec(`UPDATE sessions SET updated_ns = ? WHERE id = ? AND subject = ?`,
			s.now().UnixNano(), id, subject)
		if err != nil {
			return fmt.Errorf("append to session: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("append to session: %w", err)
		}
		if n == 0 {
			return session.ErrNotFound
		}
		next, err := checkLimits(tx, id, lim)
		if err != nil {
			return err
		}
		return insertMessages(tx, id, next, msgs)
	})
}

// checkLimits returns the index the next message takes, or an error
// wrapping session.ErrFull when the stored history is past lim. The
// messages themselves are read only when a byte bound needs them.
func checkLimits(tx txn, id string, lim session.Limits) (int, error) {
	var count, next int
	if err := tx.scan(`SELECT count(*), COALESCE(MAX(idx) + 1, 0) FROM session_messages
		WHERE session_id = ?`, []any{id}, &count, &next); err != nil {
		return 0, fmt.Errorf("append to session: %w", err)
	}
	var size int64
	if lim.MaxBytes > 0 && count > 0 {
		st, err := tx.w.stmt(tx.ctx, `SELECT body FROM session_messages WHERE session_id = ? ORDER BY idx`)
		if err != nil {
			return 0, fmt.Errorf("append to session: %w", err)
		}
		rows, err := st.QueryContext(tx.ctx, id)
		if err != nil {
			return 0, fmt.Errorf("append to session: %w", err)
		}
		defer rows.Close()
		have, err := storesql.CollectMessages(rows)
		if err != nil {
			return 0, err
		}
		size = session.Size(have)
	}
	if err := lim.CheckSize(count, size); err != nil {
		return 0, err
	}
	return next, nil
}
