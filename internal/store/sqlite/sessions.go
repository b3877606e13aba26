package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gatehousehq/gatehouse/internal/session"
	"github.com/gatehousehq/gatehouse/internal/store/storesql"
)

// SessionStore keeps sessions in one SQLite file.
type SessionStore struct {
	db  *sql.DB
	w   *writer
	now func() time.Time
}

var _ session.Store = (*SessionStore)(nil)

// OpenSessions opens (creating and migrating) the session store at path.
func OpenSessions(ctx context.Context, path string) (*SessionStore, error) {
	db, err := openDB(ctx, path, "sessions")
	if err != nil {
		return nil, err
	}
	return &SessionStore{db: db, w: newWriter(db), now: time.Now}, nil
}

// Close closes the database.
func (s *SessionStore) Close() error {
	s.w.close()
	return s.db.Close()
}

// Create stores a new session. An empty ID is filled with a random one and
// zero times with now.
func (s *SessionStore) Create(ctx context.Context, ss *session.Session) error {
	if ss.ID == "" {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return fmt.Errorf("create session id: %w", err)
		}
		ss.ID = hex.EncodeToString(b)
	}
	now := s.now().UTC()
	if ss.Created.IsZero() {
		ss.Created = now
	}
	if ss.Updated.IsZero() {
		ss.Updated = ss.Created
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
	for i, m := range msgs {
		m.Time = m.Time.UTC()
		body, err := json.Marshal(m)
		if err != nil {
			return fmt.Errorf("encode session message: %w", err)
		}
		if _, err := tx.exec(`INSERT INTO session_messages (session_id, idx, body) VALUES (?, ?, ?)`,
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

// Append adds messages to a session subject owns; otherwise it changes
// nothing and returns session.ErrNotFound.
func (s *SessionStore) Append(ctx context.Context, id, subject string, msgs ...session.Message) error {
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
		var next int
		if err := tx.scan(`SELECT COALESCE(MAX(idx) + 1, 0) FROM session_messages
			WHERE session_id = ?`, []any{id}, &next); err != nil {
			return fmt.Errorf("append to session: %w", err)
		}
		return insertMessages(tx, id, next, msgs)
	})
}
