package postgres

import (
	"context"
	"fmt"
)

// CountRequest counts one request of key in window (the window's start, in
// Unix seconds) and returns the window's count including it: one atomic
// upsert, so replicas counting the same key side by side never lose a
// request. Entering a new window deletes the windows before the previous
// one.
func (s *SessionStore) CountRequest(ctx context.Context, key string, window int64) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `INSERT INTO rate_windows (key, window_start, count) VALUES ($1, $2, 1)
		ON CONFLICT (key, window_start) DO UPDATE SET count = rate_windows.count + 1
		RETURNING count`, key, window).Scan(&n); err != nil {
		return 0, fmt.Errorf("count request: %w", err)
	}
	if s.pruned.Swap(window) != window {
		if _, err := s.pool.Exec(ctx, `DELETE FROM rate_windows WHERE window_start < $1`, window-60); err != nil {
			return 0, fmt.Errorf("prune rate windows: %w", err)
		}
	}
	return n, nil
}

// Ping reports whether the server is reachable and writable.
func (s *SessionStore) Ping(ctx context.Context) error { return ping(ctx, s.pool) }
