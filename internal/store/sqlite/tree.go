package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

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
	args := []any{chainID}
	for _, x := range indexes {
		args = append(args, x)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT idx, hash FROM audit_tree WHERE chain_id = ? AND idx IN (`+
		strings.TrimSuffix(strings.Repeat("?,", len(indexes)), ",")+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("read tree hashes: %w", err)
	}
	defer rows.Close()
	return storesql.CollectTreeHashes(rows, indexes)
}

// TreeSize returns how many leaves of the chain's tree are stored.
func (s *AuditStore) TreeSize(ctx context.Context, chainID string) (int64, error) {
	var max int64
	if err := s.db.QueryRowContext(ctx, `SELECT coalesce(max(idx), -1) FROM audit_tree WHERE chain_id = ?`, chainID).Scan(&max); err != nil {
		return 0, fmt.Errorf("read tree size: %w", err)
	}
	return audit.TreeSizeFromMaxIndex(max), nil
}

// AppendTree stores backfilled tree hashes, keeping any already stored.
func (s *AuditStore) AppendTree(ctx context.Context, chainID string, hashes []audit.StoredHash) error {
	return s.w.inTx(ctx, func(tx txn) error {
		for _, h := range hashes {
			if _, err := tx.exec(`INSERT OR IGNORE INTO audit_tree (chain_id, idx, hash) VALUES (?, ?, ?)`,
				chainID, h.Index, h.Hash[:]); err != nil {
				return fmt.Errorf("append tree: %w", err)
			}
		}
		return nil
	})
}

// SaveNote stores a note checkpoint, keeping one already stored.
func (s *AuditStore) SaveNote(ctx context.Context, n audit.NoteCheckpoint) error {
	return s.w.inTx(ctx, func(tx txn) error {
		if _, err := tx.exec(`INSERT OR IGNORE INTO audit_notes (chain_id, size, root, note) VALUES (?, ?, ?, ?)`,
			n.ChainID, n.Size, n.Root[:], string(n.Note)); err != nil {
			return fmt.Errorf("save note checkpoint: %w", err)
		}
		return nil
	})
}

// AddCosignature stores a witness's cosignature of a note (replacing one
// of the same witness).
func (s *AuditStore) AddCosignature(ctx context.Context, chainID string, size int64, c audit.Cosignature) error {
	return s.w.inTx(ctx, func(tx txn) error {
		if _, err := tx.exec(`INSERT OR REPLACE INTO audit_cosignatures (chain_id, size, witness, line) VALUES (?, ?, ?, ?)`,
			chainID, size, c.Witness, c.Line); err != nil {
			return fmt.Errorf("save cosignature: %w", err)
		}
		return nil
	})
}

// Notes returns note checkpoints with their cosignatures.
func (s *AuditStore) Notes(ctx context.Context, chainID string) ([]audit.NoteCheckpoint, error) {
	rows, err := s.db.QueryContext(ctx, storesql.NotesQuery("?"), chainID, chainID)
	if err != nil {
		return nil, fmt.Errorf("list note checkpoints: %w", err)
	}
	defer rows.Close()
	return storesql.CollectNotes(rows)
}

// EventAt returns one event by chain and seq.
func (s *AuditStore) EventAt(ctx context.Context, chainID string, seq int64) (audit.Event, bool, error) {
	en, err := storesql.ScanEvent(s.db.QueryRowContext(ctx, `SELECT `+storesql.EventColumns+` FROM audit_events
		WHERE chain_id = ? AND seq = ?`, chainID, seq))
	if errors.Is(err, sql.ErrNoRows) {
		return audit.Event{}, false, nil
	}
	if err != nil {
		return audit.Event{}, false, fmt.Errorf("read event: %w", err)
	}
	return en.Event, true, nil
}

// ChainHeads returns every chain's head seq.
func (s *AuditStore) ChainHeads(ctx context.Context) (map[string]int64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT chain_id, max(seq) FROM audit_events GROUP BY chain_id`)
	if err != nil {
		return nil, fmt.Errorf("read chain heads: %w", err)
	}
	defer rows.Close()
	return storesql.CollectChainHeads(rows)
}
