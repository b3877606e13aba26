package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehousehq/gatehouse/internal/passthrough"
)

var _ passthrough.CallStore = (*SessionStore)(nil)

// Release stores tool calls released to a client.
func (s *SessionStore) Release(ctx context.Context, calls []passthrough.Released) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, c := range calls {
			if _, err := tx.Exec(ctx, `INSERT INTO released_calls (id, owner, tool, run_id, released_ns, reported)
				VALUES ($1, $2, $3, $4, $5, FALSE)`, c.ID, c.Owner, c.Tool, c.RunID, c.Time.UnixNano()); err != nil {
				return fmt.Errorf("release tool call: %w", err)
			}
		}
		return nil
	})
}

// Lookup returns the calls among ids released to owner.
func (s *SessionStore) Lookup(ctx context.Context, owner string, ids []string) (map[string]passthrough.Released, error) {
	out := map[string]passthrough.Released{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT id, tool, run_id, released_ns, reported FROM released_calls
		WHERE owner = $1 AND id = ANY($2)`, owner, ids)
	if err != nil {
		return nil, fmt.Errorf("look up released tool calls: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		c := passthrough.Released{Owner: owner}
		var ns int64
		if err := rows.Scan(&c.ID, &c.Tool, &c.RunID, &ns, &c.Reported); err != nil {
			return nil, fmt.Errorf("look up released tool calls: %w", err)
		}
		c.Time = time.Unix(0, ns).UTC()
		out[c.ID] = c
	}
	return out, rows.Err()
}

// MarkReported marks owner's calls as answered, returning those marked now.
func (s *SessionStore) MarkReported(ctx context.Context, owner string, ids []string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `UPDATE released_calls SET reported = TRUE
		WHERE owner = $1 AND id = ANY($2) AND NOT reported RETURNING id`, owner, ids)
	if err != nil {
		return nil, fmt.Errorf("mark tool calls reported: %w", err)
	}
	marked, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("mark tool calls reported: %w", err)
	}
	return marked, nil
}
