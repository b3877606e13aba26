package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/gatehousehq/gatehouse/internal/passthrough"
	"github.com/gatehousehq/gatehouse/internal/store/storesql"
)

var _ passthrough.CallStore = (*SessionStore)(nil)

// Release stores tool calls released to a client.
func (s *SessionStore) Release(ctx context.Context, calls []passthrough.Released) error {
	return s.w.inTx(ctx, func(tx txn) error {
		for _, c := range calls {
			if _, err := tx.exec(`INSERT INTO released_calls (id, owner, tool, run_id, released_ns, reported, args_sha256)
				VALUES (?, ?, ?, ?, ?, 0, ?)`, c.ID, c.Owner, c.Tool, c.RunID, c.Time.UnixNano(), c.ArgsSHA256); err != nil {
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
	args := make([]any, 0, len(ids)+1)
	args = append(args, owner)
	for _, id := range ids {
		args = append(args, id)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+storesql.ReleasedColumns+` FROM released_calls
		WHERE owner = ? AND id IN (`+placeholders(len(ids))+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("look up released tool calls: %w", err)
	}
	defer rows.Close()
	return storesql.CollectReleased(rows, owner)
}

// MarkReported marks owner's calls as answered with their results'
// hashes, returning those marked now; a call marked before keeps its first.
func (s *SessionStore) MarkReported(ctx context.Context, owner string, reports []passthrough.Report) ([]string, error) {
	var marked []string
	err := s.w.inTx(ctx, func(tx txn) error {
		marked = marked[:0]
		for _, r := range reports {
			res, err := tx.exec(`UPDATE released_calls SET reported = 1, result_sha256 = ?
				WHERE id = ? AND owner = ? AND reported = 0`, r.ResultSHA256, r.ID, owner)
			if err != nil {
				return fmt.Errorf("mark tool call reported: %w", err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return fmt.Errorf("mark tool call reported: %w", err)
			} else if n == 1 {
				marked = append(marked, r.ID)
			}
		}
		return nil
	})
	return marked, err
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}
