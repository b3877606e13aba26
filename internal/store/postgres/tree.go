package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/store/storesql"
)

var _ audit.TreeStore = (*AuditStore)(nil)

// TreeHashes returns the stored tree hashes at indexes.
func (s *AuditStore) TreeHashes(ctx context.Context, chainID string, indexes []int64) ([]tlog.Hash, error) {
	if len(indexes) == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT idx, hash FROM audit_tree WHERE chain_id = $1 AND idx = ANY($2)`, chainID, indexes)
	if err != nil {
		return nil, fmt.Errorf("read tree hashes: %w", err)
	}
	defer rows.Close()
	return storesql.CollectTreeHashes(rows, indexes)
}

// TreeSize returns how many leaves of the chain's tree are stored.
func (s *AuditStore) TreeSize(ctx context.Context, chainID string) (int64, error) {
	var max int64
	if err := s.pool.QueryRow(ctx, `SELECT coalesce(max(idx), -1) FROM audit_tree WHERE chain_id = $1`, chainID).Scan(&max); err != nil {
		return 0, fmt.Errorf("read tree size: %w", err)
	}
	return audit.TreeSizeFromMaxIndex(max), nil
}

// AppendTree stores backfilled tree hashes, keeping any already stored.
func (s *AuditStore) AppendTree(ctx context.Context, chainID string, hashes []audit.StoredHash) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, h := range hashes {
			b.Queue(`INSERT INTO audit_tree (chain_id, idx, hash) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
				chainID, h.Index, h.Hash[:])
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("append tree: %w", err)
		}
		return nil
	})
}

// SaveNote stores a note checkpoint, keeping one already stored.
func (s *AuditStore) SaveNote(ctx context.Context, n audit.NoteCheckpoint) error {
	if _, err := s.pool.Exec(ctx, `INSERT INTO audit_notes (chain_id, size, root, note) VALUES ($1, $2, $3, $4)
		ON CONFLICT DO NOTHING`, n.ChainID, n.Size, n.Root[:], string(n.Note)); err != nil {
		return fmt.Errorf("save note checkpoint: %w", err)
	}
	return nil
}

// AddCosignature stores a witness's cosignature of a note (replacing one
// of the same witness).
func (s *AuditStore) AddCosignature(ctx context.Context, chainID string, size int64, c audit.Cosignature) error {
	if _, err := s.pool.Exec(ctx, `INSERT INTO audit_cosignatures (chain_id, size, witness, line) VALUES ($1, $2, $3, $4)
		ON CONFLICT (chain_id, size, witness) DO UPDATE SET line = EXCLUDED.line`, chainID, size, c.Witness, c.Line); err != nil {
		return fmt.Errorf("save cosignature: %w", err)
	}
	return nil
}

// Notes returns note checkpoints with their cosignatures.
func (s *AuditStore) Notes(ctx context.Context, chainID string) ([]audit.NoteCheckpoint, error) {
	rows, err := s.pool.Query(ctx, storesql.NotesQuery("$1::text"), chainID)
	if err != nil {
		return nil, fmt.Errorf("list note checkpoints: %w", err)
	}
	defer rows.Close()
	return storesql.CollectNotes(rows)
}

// EventAt returns one event by chain and seq.
func (s *AuditStore) EventAt(ctx context.Context, chainID string, seq int64) (audit.Event, bool, error) {
	en, err := storesql.ScanEvent(s.pool.QueryRow(ctx, `SELECT `+storesql.EventColumns+` FROM audit_events
		WHERE chain_id = $1 AND seq = $2`, chainID, seq))
	if errors.Is(err, pgx.ErrNoRows) {
		return audit.Event{}, false, nil
	}
	if err != nil {
		return audit.Event{}, false, fmt.Errorf("read event: %w", err)
	}
	return en.Event, true, nil
}

// ChainHeads returns every chain's head seq.
func (s *AuditStore) ChainHeads(ctx context.Context) (map[string]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT chain_id, max(seq) FROM audit_events GROUP BY chain_id`)
	if err != nil {
		return nil, fmt.Errorf("read chain heads: %w", err)
	}
	defer rows.Close()
	return storesql.CollectChainHeads(rows)
}
