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
			if _, err := tx.Exec(ctx, `INSERT INTO released_calls (id, owner, tool, run_id, released_ns, reported, args_sha256)
				VALUES ($1, $2, $3, $4, $5, FALSE, $6)`, c.ID, c.Owner, c.Tool, c.RunID, c.Time.UnixNano(), c.ArgsSHA256); err != nil {
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

// MarkReported marks owner's calls as answered with their results'
// hashes, returning those marked now; a call marked before keeps its first.
func (s *SessionStore) MarkReported(ctx context.Context, owner string, reports []passthrough.Report) ([]string, error) {
	ids := make([]string, len(reports))
	hashes := make([]string, len(reports))
	for i, r := range reports {
		ids[i], hashes[i] = r.ID, r.ResultSHA256
	}
	rows, err := s.pool.Query(ctx, `UPDATE released_calls AS c SET reported = TRUE, result_sha256 = r.hash
		FROM unnest($2::text[], $3::text[]) AS r(id, hash)
		WHERE c.owner = $1 AND c.id = r.id AND NOT c.reported RETURNING c.id`, owner, ids, hashes)
	if err != nil {
		return nil, fmt.Errorf("mark tool calls reported: %w", err)
	}
	marked, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("mark tool calls reported: %w", err)
	}
	return marked, nil
}
