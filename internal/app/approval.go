package app

import (
	"context"
	"strings"

	"github.com/gatehousehq/gatehouse/internal/authz"
	"github.com/gatehousehq/gatehouse/internal/authz/condition"
	"github.com/gatehousehq/gatehouse/internal/config"
	"github.com/gatehousehq/gatehouse/internal/principal"
)

// buildApproval compiles a tool's approval rule; its when condition is
// CEL over the same principal, args and tool as the tool's condition.
func buildApproval(env *condition.Env, name string, tc config.Tool) (*authz.ApprovalRule, error) {
	a := tc.Approval
	rule := &authz.ApprovalRule{WhenSource: a.When, Approvers: a.Approvers, TTL: a.TTL}
	if strings.TrimSpace(a.When) == "" {
		return rule, nil
	}
	cond, err := env.Compile(a.When)
	if err != nil {
		return nil, err
	}
	info := condition.ToolInfo{Name: name, Permission: tc.Permission}
	rule.When = func(ctx context.Context, p *principal.Principal, args map[string]any) (bool, error) {
		return cond.Eval(ctx, p, info, args)
	}
	return rule, nil
}
