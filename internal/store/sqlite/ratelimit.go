package sqlite

import (
	"context"
	"fmt"
)

// CountRequest counts one request of key in window (the window's start, in
// Unix seconds) and returns the window's count including it, in one
// atomic upsert. Entering a new window deletes the windows before the
// previous one.
func (s *SessionStore) CountRequest(ctx context.Context, key string, window int64) (int64, error) {
	var n int64
	err := s.w.inTx(ctx, func(tx txn) error {
		if err := tx.scan(`INSERT INTO rate_windows (key, window_start, count) VALUES (?, ?, 1)
			ON CONFLICT (key, window_start) DO UPDATE SET count = count + 1
			RETURNING count`, []any{key, window}, &n); err != nil {
			return err
		}
		if s.pruned.Swap(window) != window {
			if _, err := tx.exec(`DELETE FROM rate_windows WHERE window_start < ?`, window-60); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("count request: %w", err)
	}
	return n, nil
}

// Ping takes and releases the write lock.
func (s *SessionStore) Ping(ctx context.Context) error {
	return s.w.inTx(ctx, func(txn) error { return nil })
}
