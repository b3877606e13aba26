package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gatehousehq/gatehouse/internal/approval"
)

var _ approval.Store = (*SessionStore)(nil)

const approvalCols = `id, run_id, call_id, tool, arguments, args_sha256, owner, requested_by, approvers,
	created_ns, expires_ns, status, decided_by, comment, decided_ns, executed`

// CreateRun stores a paused run and its pending approvals together.
func (s *SessionStore) CreateRun(ctx context.Context, run approval.Run, approvals []approval.Approval) error {
	return s.w.inTx(ctx, func(tx txn) error {
		if _, err := tx.exec(`INSERT INTO paused_runs (id, owner, kind, agent, session_id, status, state, updated_ns)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, run.ID, run.Owner, string(run.Kind), run.Agent, run.SessionID, run.Status, run.State, run.UpdatedAt.UnixNano()); err != nil {
			return fmt.Errorf("store paused run: %w", err)
		}
		return insertApprovals(tx, run.ID, 0, approvals)
	})
}

// RepauseRun moves a running run back to awaiting approval.
func (s *SessionStore) RepauseRun(ctx context.Context, id string, state []byte, approvals []approval.Approval, now time.Time) error {
	return s.w.inTx(ctx, func(tx txn) error {
		res, err := tx.exec(`UPDATE paused_runs SET status = ?, state = ?, lease_until_ns = 0, updated_ns = ? WHERE id = ? AND status = ?`,
			approval.RunAwaiting, state, now.UnixNano(), id, approval.RunRunning)
		if err != nil {
			return fmt.Errorf("pause run again: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("pause run %s again: %w", id, approval.ErrGone)
		}
		var next int
		if err := tx.scan(`SELECT COALESCE(MAX(idx) + 1, 0) FROM approvals WHERE run_id = ?`, []any{id}, &next); err != nil {
			return fmt.Errorf("pause run again: %w", err)
		}
		return insertApprovals(tx, id, next, approvals)
	})
}

func insertApprovals(tx txn, runID string, first int, approvals []approval.Approval) error {
	for j, a := range approvals {
		i := first + j
		req, _ := json.Marshal(a.RequestedBy)
		appr, _ := json.Marshal(a.Approvers)
		if _, err := tx.exec(`INSERT INTO approvals (id, run_id, idx, call_id, tool, arguments, args_sha256, owner,
			requested_by, approvers, created_ns, expires_ns, status)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, a.ID, runID, i, a.CallID, a.Tool, a.Arguments, a.ArgsSHA256,
			a.Owner, string(req), string(appr), a.CreatedAt.UnixNano(), a.ExpiresAt.UnixNano(), approval.StatusPending); err != nil {
			return fmt.Errorf("store approval: %w", err)
		}
	}
	return nil
}

// GetApproval returns one approval.
func (s *SessionStore) GetApproval(ctx context.Context, id string) (approval.Approval, error) {
	as, err := s.queryApprovals(ctx, `SELECT `+approvalCols+` FROM approvals WHERE id = ?`, id)
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
	return s.queryApprovals(ctx, `SELECT `+approvalCols+` FROM approvals WHERE status = ? AND expires_ns > ?
		ORDER BY created_ns, run_id, idx`, approval.StatusPending, now.UnixNano())
}

// RunApprovals returns a run's approvals in call order.
func (s *SessionStore) RunApprovals(ctx context.Context, runID string) ([]approval.Approval, error) {
	return s.queryApprovals(ctx, `SELECT `+approvalCols+` FROM approvals WHERE run_id = ? ORDER BY idx`, runID)
}

func (s *SessionStore) queryApprovals(ctx context.Context, q string, args ...any) ([]approval.Approval, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
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
		if err := unmarshalApproval(&a, req, appr, by); err != nil {
			return nil, err
		}
		a.CreatedAt, a.ExpiresAt = time.Unix(0, created).UTC(), time.Unix(0, expires).UTC()
		if decided != 0 {
			a.DecidedAt = time.Unix(0, decided).UTC()
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

func unmarshalApproval(a *approval.Approval, req, appr, by string) error {
	if err := json.Unmarshal([]byte(req), &a.RequestedBy); err != nil {
		return fmt.Errorf("read approval %s: %w", a.ID, err)
	}
	if err := json.Unmarshal([]byte(appr), &a.Approvers); err != nil {
		return fmt.Errorf("read approval %s: %w", a.ID, err)
	}
	if by != "" {
		if err := json.Unmarshal([]byte(by), &a.DecidedBy); err != nil {
			return fmt.Errorf("read approval %s: %w", a.ID, err)
		}
	}
	return nil
}

// Decide moves a pending, unexpired approval to status.
func (s *SessionStore) Decide(ctx context.Context, id, status string, by approval.Requester, comment string, now time.Time) error {
	b, _ := json.Marshal(by)
	return s.w.inTx(ctx, func(tx txn) error {
		res, err := tx.exec(`UPDATE approvals SET status = ?, decided_by = ?, comment = ?, decided_ns = ?
			WHERE id = ? AND status = ? AND expires_ns > ?`, status, string(b), comment, now.UnixNano(), id, approval.StatusPending, now.UnixNano())
		if err != nil {
			return fmt.Errorf("decide approval: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("decide approval: %w", err)
		} else if n == 1 {
			return nil
		}
		var one int
		if err := tx.scan(`SELECT 1 FROM approvals WHERE id = ?`, []any{id}, &one); errors.Is(err, sql.ErrNoRows) {
			return approval.ErrNotFound
		} else if err != nil {
			return fmt.Errorf("decide approval: %w", err)
		}
		return approval.ErrGone
	})
}

// Expire moves pending approvals whose time is up to expired.
func (s *SessionStore) Expire(ctx context.Context, now time.Time) ([]approval.Approval, error) {
	expired, err := s.queryApprovals(ctx, `SELECT `+approvalCols+` FROM approvals WHERE status = ? AND expires_ns <= ?`,
		approval.StatusPending, now.UnixNano())
	if err != nil || len(expired) == 0 {
		return nil, err
	}
	var out []approval.Approval
	err = s.w.inTx(ctx, func(tx txn) error {
		out = out[:0]
		for _, a := range expired {
			res, err := tx.exec(`UPDATE approvals SET status = ?, decided_ns = ? WHERE id = ? AND status = ? AND expires_ns <= ?`,
				approval.StatusExpired, now.UnixNano(), a.ID, approval.StatusPending, now.UnixNano())
			if err != nil {
				return fmt.Errorf("expire approval: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				a.Status = approval.StatusExpired
				out = append(out, a)
			}
		}
		return nil
	})
	return out, err
}

// GetRun returns a run.
func (s *SessionStore) GetRun(ctx context.Context, id string) (approval.Run, error) {
	var r approval.Run
	var lease, updated int64
	err := s.db.QueryRowContext(ctx, `SELECT id, owner, kind, agent, session_id, status, state, result, error, lease_until_ns, updated_ns
		FROM paused_runs WHERE id = ?`, id).Scan(&r.ID, &r.Owner, &r.Kind, &r.Agent, &r.SessionID, &r.Status, &r.State, &r.Result, &r.Error, &lease, &updated)
	if errors.Is(err, sql.ErrNoRows) {
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
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM paused_runs r WHERE status = ?
		AND NOT EXISTS (SELECT 1 FROM approvals a WHERE a.run_id = r.id AND a.status = ?)`, approval.RunAwaiting, approval.StatusPending)
	if err != nil {
		return nil, fmt.Errorf("find ready runs: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("find ready runs: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// ClaimRun moves a ready run to running; exactly one caller wins.
func (s *SessionStore) ClaimRun(ctx context.Context, id string, now, leaseUntil time.Time) (bool, error) {
	won := false
	err := s.w.inTx(ctx, func(tx txn) error {
		res, err := tx.exec(`UPDATE paused_runs SET status = ?, lease_until_ns = ?, updated_ns = ?
			WHERE id = ? AND status = ? AND NOT EXISTS (SELECT 1 FROM approvals a WHERE a.run_id = paused_runs.id AND a.status = ?)`,
			approval.RunRunning, leaseUntil.UnixNano(), now.UnixNano(), id, approval.RunAwaiting, approval.StatusPending)
		if err != nil {
			return fmt.Errorf("claim run: %w", err)
		}
		n, err := res.RowsAffected()
		won = n == 1
		return err
	})
	return won, err
}

// MarkExecuted sets an approved call's executed flag; exactly one caller wins.
func (s *SessionStore) MarkExecuted(ctx context.Context, approvalID string) (bool, error) {
	won := false
	err := s.w.inTx(ctx, func(tx txn) error {
		res, err := tx.exec(`UPDATE approvals SET executed = 1 WHERE id = ? AND status = ? AND executed = 0`, approvalID, approval.StatusApproved)
		if err != nil {
			return fmt.Errorf("mark approval executed: %w", err)
		}
		n, err := res.RowsAffected()
		won = n == 1
		return err
	})
	return won, err
}

// FinishRun moves a running run to completed or failed.
func (s *SessionStore) FinishRun(ctx context.Context, id, status string, result []byte, errText string, now time.Time) error {
	return s.w.inTx(ctx, func(tx txn) error {
		res, err := tx.exec(`UPDATE paused_runs SET status = ?, result = ?, error = ?, updated_ns = ? WHERE id = ? AND status = ?`,
			status, result, errText, now.UnixNano(), id, approval.RunRunning)
		if err != nil {
			return fmt.Errorf("finish run: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("finish run %s: %w", id, approval.ErrGone)
		}
		return nil
	})
}

// FailStale fails runs still running after their lease.
func (s *SessionStore) FailStale(ctx context.Context, now time.Time, reason string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM paused_runs WHERE status = ? AND lease_until_ns <= ?`, approval.RunRunning, now.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("find stale runs: %w", err)
	}
	var stale []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("find stale runs: %w", err)
		}
		stale = append(stale, id)
	}
	rows.Close()
	if len(stale) == 0 {
		return nil, rows.Err()
	}
	var failed []string
	err = s.w.inTx(ctx, func(tx txn) error {
		failed = failed[:0]
		for _, id := range stale {
			res, err := tx.exec(`UPDATE paused_runs SET status = ?, error = ?, updated_ns = ? WHERE id = ? AND status = ? AND lease_until_ns <= ?`,
				approval.RunFailed, reason, now.UnixNano(), id, approval.RunRunning, now.UnixNano())
			if err != nil {
				return fmt.Errorf("fail stale run: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				failed = append(failed, id)
			}
		}
		return nil
	})
	return failed, err
}
