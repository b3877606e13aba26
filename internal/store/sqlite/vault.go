package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehousehq/gatehouse/internal/dlp"
)

var _ dlp.Vault = (*SessionStore)(nil)

// PutToken stores a token's sealed value, or renews its expiry; a scope
// holding max live tokens takes no new one. Expired tokens are deleted.
func (s *SessionStore) PutToken(ctx context.Context, e dlp.Entry, max int, now time.Time) error {
	return s.w.inTx(ctx, func(tx txn) error {
		if _, err := tx.exec(`DELETE FROM vault_tokens WHERE expires_ns <= ?`, now.UnixNano()); err != nil {
			return fmt.Errorf("prune vault: %w", err)
		}
		var live, has int
		if err := tx.scan(`SELECT COUNT(*), COALESCE(SUM(token = ?), 0) FROM vault_tokens WHERE owner = ? AND scope = ?`,
			[]any{e.Token, e.Owner, e.Scope}, &live, &has); err != nil {
			return fmt.Errorf("count vault tokens: %w", err)
		}
		if has == 0 && live >= max {
			return dlp.ErrVaultFull
		}
		if _, err := tx.exec(`INSERT INTO vault_tokens (owner, scope, token, sealed, expires_ns) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (owner, scope, token) DO UPDATE SET expires_ns = excluded.expires_ns`,
			e.Owner, e.Scope, e.Token, e.Sealed, e.Expires.UnixNano()); err != nil {
			return fmt.Errorf("store vault token: %w", err)
		}
		return nil
	})
}

// Token returns the sealed value of owner's live token in scope.
func (s *SessionStore) Token(ctx context.Context, owner, scope, token string, now time.Time) ([]byte, error) {
	var sealed []byte
	err := s.db.QueryRowContext(ctx, `SELECT sealed FROM vault_tokens WHERE owner = ? AND scope = ? AND token = ? AND expires_ns > ?`,
		owner, scope, token, now.UnixNano()).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, dlp.ErrUnknownToken
	}
	if err != nil {
		return nil, fmt.Errorf("read vault token: %w", err)
	}
	return sealed, nil
}
