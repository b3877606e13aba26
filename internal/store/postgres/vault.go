package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehousehq/gatehouse/internal/dlp"
)

var _ dlp.Vault = (*SessionStore)(nil)

// PutToken stores a token's sealed value, or renews its expiry; a scope
// holding max live tokens takes no new one. Replicas putting tokens of one
// scope side by side take turns (an advisory lock on the scope), so
// together they cannot pass the bound. Expired tokens are deleted.
func (s *SessionStore) PutToken(ctx context.Context, e dlp.Entry, max int, now time.Time) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, e.Owner+"/"+e.Scope); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM vault_tokens WHERE owner = $1 AND scope = $2 AND expires_ns <= $3`,
			e.Owner, e.Scope, now.UnixNano()); err != nil {
			return err
		}
		var live, has int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*), COUNT(*) FILTER (WHERE token = $3) FROM vault_tokens WHERE owner = $1 AND scope = $2`,
			e.Owner, e.Scope, e.Token).Scan(&live, &has); err != nil {
			return err
		}
		if has == 0 && live >= max {
			return dlp.ErrVaultFull
		}
		_, err := tx.Exec(ctx, `INSERT INTO vault_tokens (owner, scope, token, sealed, expires_ns) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (owner, scope, token) DO UPDATE SET expires_ns = excluded.expires_ns`,
			e.Owner, e.Scope, e.Token, e.Sealed, e.Expires.UnixNano())
		return err
	})
	if err != nil && !errors.Is(err, dlp.ErrVaultFull) {
		return fmt.Errorf("store vault token: %w", err)
	}
	return err
}

// Token returns the sealed value of owner's live token in scope.
func (s *SessionStore) Token(ctx context.Context, owner, scope, token string, now time.Time) ([]byte, error) {
	var sealed []byte
	err := s.pool.QueryRow(ctx, `SELECT sealed FROM vault_tokens WHERE owner = $1 AND scope = $2 AND token = $3 AND expires_ns > $4`,
		owner, scope, token, now.UnixNano()).Scan(&sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, dlp.ErrUnknownToken
	}
	if err != nil {
		return nil, fmt.Errorf("read vault token: %w", err)
	}
	return sealed, nil
}
