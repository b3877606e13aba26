package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehousehq/gatehouse/internal/approval"
)

var _ approval.Store = (*SessionStore)(nil)

const approvalCols = `id, run_id, call_id, tool, arguments, args_sha256, owner, requested_by, approvers,
	created_ns, expires_ns, status, decided_by, comment, decided_ns, executed`

// CreateRun stores a paused run and its pending approvals together.
func (s *SessionStore) CreateRun(ctx context.Context, run approval.Run, approvals []approval.Approval) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO paused_runs (id, owner, kind, agent, session_id, status, state, updated_ns)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, run.ID, run.Owner, string(run.Kind), run.Agent, run.SessionID, run.Status, run.State, run.UpdatedAt.UnixNano()); err != nil {
			return fmt.Errorf("store paused run: %w", err)
		}
		return insertApprovals(ctx, tx, run.ID, 0, approvals)
	})
}

// RepauseRun moves a running run back to awaiting approval.
func (s *SessionStore) RepauseRun(ctx context.Context, id string, state []byte, approvals []approval.Approval, now time.Time) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE paused_runs SET status = $1, state = $2, lease_until_ns = 0, updated_ns = $3 WHERE id = $4 AND status = $5`,
			approval.RunAwaiting, state, now.UnixNano(), id, approval.RunRunning)
		if err != nil {
			return fmt.Errorf("pause run again: %w", err)
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("pause run %s again: %w", id, approval.ErrGone)
		}
		var next int
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(idx) + 1, 0) FROM approvals WHERE run_id = $1`, id).Scan(&next); err != nil {
			return fmt.Errorf("pause run again: %w", err)
		}
		return insertApprovals(ctx, tx, id, next, approvals)
	})
}

func insertApprovals(ctx context.Context, tx pgx.Tx, runID string, first int, approvals []approval.Approval) error {
	for j, a := range approvals {
		i := first + j
		req, _ := json.Marshal(a.RequestedBy)
		appr, _ := json.Marshal(a.Approvers)
		if _, err := tx.Exec(ctx, `INSERT INTO approvals (id, run_id, idx, call_id, tool, arguments, args_sha256, owner,
			requested_by, approvers, created_ns, expires_ns, status)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`, a.ID, runID, i, a.CallID, a.Tool, a.Arguments, a.ArgsSHA256,
			a.Owner, string(req), string(appr), a.CreatedAt.UnixNano(), a.ExpiresAt.UnixNano(), approval.StatusPending); err != nil {
			return fmt.Errorf("store approval: %w", err)
		}
	}
	return nil
}

// GetApproval returns one approval.
func (s *SessionStore) GetApproval(ctx context.Context, id string) (approval.Approval, error) {
	as, err := s.queryApprovals(ctx, `SELECT `+approvalCols+` FROM approvals WHERE id = $1`, id)
	if err != nil {
		return approval.Approval{}, err
	}
	if len(as) == 0 {
		return approval.Approval{}, approval.ErrNotFound
	}
	return as[0], nil
}

// ListPending returns the approvals pending at now, oldest first.
func (s *SessionStore) ListPending(ctx context.Context, now time.Time) ([]approval.Approval, error) {
	return s.queryApprovals(ctx, `SELECT `+approvalCols+` FROM approvals WHERE status = $1 AND expires_ns > $2
		ORDER BY created_ns, run_id, idx`, approval.StatusPending, now.UnixNano())
}

// RunApprovals returns a run's approvals in call order.
func (s *SessionStore) RunApprovals(ctx context.Context, runID string) ([]approval.Approval, error) {
	return s.queryApprovals(ctx, `SELECT `+approvalCols+` FROM approvals WHERE run_id = $1 ORDER BY idx`, runID)
}

func (s *SessionStore) queryApprovals(ctx context.Context, q string, args ...any) ([]approval.Approval, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read approvals: %w", err)
	}
	defer rows.Close()
	var out []approval.Approval
	for rows.Next() {
		var a approval.Approval
		var req, appr, by string
		var created, expires, decided int64
		if err := rows.Scan(&a.ID, &a.RunID, &a.CallID, &a.Tool, &a.Arguments, &a.ArgsSHA256, &a.Owner, &req, &appr,
			&created, &expires, &a.Status, &by, &a.Comment, &decided, &a.Executed); err != nil {
			return nil, fmt.Errorf("read approvals: %w", err)
		}
		if err := json.Unmarshal([]byte(req), &a.RequestedBy); err != nil {
			return nil, fmt.Errorf("read approval %s: %w", a.ID, err)
		}
		if err := json.Unmarshal([]byte(appr), &a.Approvers); err != nil {
			return nil, fmt.Errorf("read approval %s: %w", a.ID, err)
		}
		if by != "" {
			if err := json.Unmarshal([]byte(by), &a.DecidedBy); err != nil {
				return nil, fmt.Errorf("read approval %s: %w", a.ID, err)
			}
		}
		a.CreatedAt, a.ExpiresAt = time.Unix(0, created).UTC(), time.Unix(0, expires).UTC()
		if decided != 0 {
			a.DecidedAt = time.Unix(0, decided).UTC()
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Decide moves a pending, unexpired approval to status.
func (s *SessionStore) Decide(ctx context.Context, id, status string, by approval.Requester, comment string, now time.Time) error {
	b, _ := json.Marshal(by)
	tag, err := s.pool.Exec(ctx, `UPDATE approvals SET status = $1, decided_by = $2, comment = $3, decided_ns = $4
		WHERE id = $5 AND status = $6 AND expires_ns > $4`, status, string(b), comment, now.UnixNano(), id, approval.StatusPending)
	if err != nil {
		return fmt.Errorf("decide approval: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var one int
	if err := s.pool.QueryRow(ctx, `SELECT 1 FROM approvals WHERE id = $1`, id).Scan(&one); errors.Is(err, pgx.ErrNoRows) {
		return approval.ErrNotFound
	} else if err != nil {
		return fmt.Errorf("decide approval: %w", err)
	}
	return approval.ErrGone
}

// Expire moves pending approvals whose time is up to expired.
func (s *SessionStore) Expire(ctx context.Context, now time.Time) ([]approval.Approval, error) {
	ids, err := s.ids(ctx, `UPDATE approvals SET status = $1, decided_ns = $2 WHERE status = $3 AND expires_ns <= $2 RETURNING id`,
		approval.StatusExpired, now.UnixNano(), approval.StatusPending)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	return s.queryApprovals(ctx, `SELECT `+approvalCols+` FROM approvals WHERE id = ANY($1) ORDER BY created_ns`, ids)
}

func (s *SessionStore) ids(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("update approvals: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("update approvals: %w", err)
	}
	return ids, nil
}

// GetRun returns a run.
func (s *SessionStore) GetRun(ctx context.Context, id string) (approval.Run, error) {
	var r approval.Run
	var lease, updated int64
	err := s.pool.QueryRow(ctx, `SELECT id, owner, kind, agent, session_id, status, state, result, error, lease_until_ns, updated_ns
		FROM paused_runs WHERE id = $1`, id).Scan(&r.ID, &r.Owner, &r.Kind, &r.Agent, &r.SessionID, &r.Status, &r.State, &r.Result, &r.Error, &lease, &updated)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, approval.ErrNotFound
	}
	if err != nil {
		return r, fmt.Errorf("read run: %w", err)
	}
	r.LeaseUntil, r.UpdatedAt = time.Unix(0, lease).UTC(), time.Unix(0, updated).UTC()
	return r, nil
}

// ReadyRuns returns runs awaiting approval with no approval pending.
func (s *SessionStore) ReadyRuns(ctx context.Context) ([]string, error) {
	return s.ids(ctx, `SELECT id FROM paused_runs r WHERE status = $1
		AND NOT EXISTS (SELECT 1 FROM approvals a WHERE a.run_id = r.id AND a.status = $2)`, approval.RunAwaiting, approval.StatusPending)
}

// ClaimRun moves a ready run to running; exactly one caller wins.
func (s *SessionStore) ClaimRun(ctx context.Context, id string, now, leaseUntil time.Time) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE paused_runs SET status = $1, lease_until_ns = $2, updated_ns = $3
		WHERE id = $4 AND status = $5 AND NOT EXISTS (SELECT 1 FROM approvals a WHERE a.run_id = paused_runs.id AND a.status = $6)`,
		approval.RunRunning, leaseUntil.UnixNano(), now.UnixNano(), id, approval.RunAwaiting, approval.StatusPending)
	if err != nil {
		return false, fmt.Errorf("claim run: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// MarkExecuted sets an approved call's executed flag; exactly one caller wins.
func (s *SessionStore) MarkExecuted(ctx context.Context, approvalID string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE approvals SET executed = TRUE WHERE id = $1 AND status = $2 AND NOT executed`,
		approvalID, approval.StatusApproved)
	if err != nil {
		return false, fmt.Errorf("mark approval executed: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// FinishRun moves a running run to completed or failed.
func (s *SessionStore) FinishRun(ctx context.Context, id, status string, result []byte, errText string, now time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE paused_runs SET status = $1, result = $2, error = $3, updated_ns = $4 WHERE id = $5 AND status = $6`,
		status, result, errText, now.UnixNano(), id, approval.RunRunning)
	if err != nil {
		return fmt.Errorf("finish run: %w", err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("finish run %s: %w", id, approval.ErrGone)
	}
	return nil
}

// FailStale fails runs still running after their lease.
func (s *SessionStore) FailStale(ctx context.Context, now time.Time, reason string) ([]string, error) {
	return s.ids(ctx, `UPDATE paused_runs SET status = $1, error = $2, updated_ns = $3
		WHERE status = $4 AND lease_until_ns <= $3 RETURNING id`, approval.RunFailed, reason, now.UnixNano(), approval.RunRunning)
}
