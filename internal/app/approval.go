package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse/internal/approval"
	"github.com/gatehousehq/gatehouse/internal/authz"
	"github.com/gatehousehq/gatehouse/internal/authz/condition"
	"github.com/gatehousehq/gatehouse/internal/config"
	"github.com/gatehousehq/gatehouse/internal/principal"
)

// buildApproval compiles a tool's approval rule; its when condition is
// CEL over the same principal, args and tool as the tool's condition.
func buildApproval(env *condition.Env, name string, tc config.Tool, argsSchema json.RawMessage) (*authz.ApprovalRule, error) {
	a := tc.Approval
	rule := &authz.ApprovalRule{WhenSource: a.When, Approvers: a.Approvers, TTL: a.TTL}
	if strings.TrimSpace(a.When) == "" {
		return rule, nil
	}
	cond, err := env.CompileFor(a.When, argsSchema)
	if err != nil {
		return nil, err
	}
	info := condition.ToolInfo{Name: name, Permission: tc.Permission}
	rule.When = func(ctx context.Context, p *principal.Principal, args map[string]any) (bool, error) {
		return cond.Eval(ctx, p, info, args)
	}
	return rule, nil
}

// approvalSweepInterval is how often each replica expires approvals,
// reports lost resumptions and resumes runs decided elsewhere (or decided
// just before a restart).
const approvalSweepInterval = time.Second

// sweepApprovals keeps paused runs moving until ctx ends.
func sweepApprovals(ctx context.Context, svc *approval.Service, log *slog.Logger) {
	t := time.NewTicker(approvalSweepInterval)
	defer t.Stop()
	for {
		if err := svc.Sweep(ctx); err != nil && ctx.Err() == nil {
			log.Error("approval sweep", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// waitResumptions lets resumptions in flight finish within d.
func waitResumptions(svc *approval.Service, d time.Duration) {
	done := make(chan struct{})
	go func() { svc.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}
