package authz

import (
	"context"
	"slices"
	"time"

	"github.com/gatehousehq/gatehouse/internal/principal"
)

// ApprovalRule is a tool's human approval: when When holds for a call
// that permission and condition allow, the call waits for a person holding
// one of Approvers to approve its exact arguments within TTL.
type ApprovalRule struct {
	When       Condition // nil: every call
	WhenSource string
	Approvers  []string
	TTL        time.Duration
}

// Needed reports whether an allowed call needs approval. An evaluation
// error is returned so the caller denies (it never lets a call skip
// approval).
func (a *ApprovalRule) Needed(ctx context.Context, p *principal.Principal, args map[string]any) (bool, error) {
	if a == nil {
		return false, nil
	}
	if a.When == nil {
		return true, nil
	}
	return a.When(ctx, p, args)
}

// MayApprove reports whether p holds one of the approver roles.
func (a *ApprovalRule) MayApprove(p *principal.Principal) bool {
	for _, r := range p.Roles {
		if slices.Contains(a.Approvers, r) {
			return true
		}
	}
	return false
}
