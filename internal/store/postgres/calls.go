package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/gatehousehq/gatehouse/internal/passthrough"
	"github.com/gatehousehq/gatehouse/internal/store/storesql"
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
	if len(ids) == 0 {
		return map[string]passthrough.Released{}, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT `+storesql.ReleasedColumns+` FROM released_calls
		WHERE owner = $1 AND id = ANY($2)`, owner, ids)
	if err != nil {
		return nil, fmt.Errorf("look up released tool calls: %w", err)
	}
	defer rows.Close()
	return storesql.CollectReleased(rows, owner)
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
