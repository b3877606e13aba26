package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gatehousehq/gatehouse/internal/session"
)

var _ session.ResponseStore = (*SessionStore)(nil)

// PutResponse stores a new response.
func (s *SessionStore) PutResponse(ctx context.Context, r *session.StoredResponse) error {
	msgs, err := json.Marshal(r.Messages)
	if err != nil {
		return fmt.Errorf("encode stored response: %w", err)
	}
	return s.w.inTx(ctx, func(tx txn) error {
		if _, err := tx.exec(`INSERT INTO stored_responses (id, owner, model, created_ns, messages, body) VALUES (?, ?, ?, ?, ?, ?)`,
			r.ID, r.Owner, r.Model, r.Created.UnixNano(), string(msgs), string(r.Body)); err != nil {
			return fmt.Errorf("store response: %w", err)
		}
		return nil
	})
}

// GetResponse returns owner's response id, else session.ErrNotFound.
func (s *SessionStore) GetResponse(ctx context.Context, id, owner string) (*session.StoredResponse, error) {
	r := session.StoredResponse{ID: id, Owner: owner}
	var created int64
	var msgs, body string
	err := s.db.QueryRowContext(ctx, `SELECT model, created_ns, messages, body FROM stored_responses WHERE id = ? AND owner = ?`,
		id, owner).Scan(&r.Model, &created, &msgs, &body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, session.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get stored response: %w", err)
	}
	if err := json.Unmarshal([]byte(msgs), &r.Messages); err != nil {
		return nil, fmt.Errorf("decode stored response: %w", err)
	}
	r.Body, r.Created = []byte(body), time.Unix(0, created).UTC()
	return &r, nil
}

// DeleteResponse deletes owner's response id, else session.ErrNotFound.
func (s *SessionStore) DeleteResponse(ctx context.Context, id, owner string) error {
	return s.w.inTx(ctx, func(tx txn) error {
		res, err := tx.exec(`DELETE FROM stored_responses WHERE id = ? AND owner = ?`, id, owner)
		if err != nil {
			return fmt.Errorf("delete stored response: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("delete stored response: %w", err)
		} else if n == 0 {
			return session.ErrNotFound
		}
		return nil
	})
}
