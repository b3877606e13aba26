package passthrough

import (
	"github.com/gatehousehq/gatehouse/internal/agent"
	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/gate"
)

// Statuses of an allowed call in Result.Decisions.
const (
	// StatusReleased: the call reached the client.
	StatusReleased = "released"
	// StatusNotReleased: the call was allowed but withheld with its turn —
	// another call of the turn was refused, or the turn is held for
	// approval (GET /v1/runs/{id} then says whether it was released).
	StatusNotReleased = "not_released"
)

const (
	withheldRefused = "allowed, but not released: another call of the same turn was refused"
	withheldHeld    = "allowed, but not released until the turn's approvals are decided"
)

// settle gives each allowed call of a turn its status, in the record the
// client gets and in its tool.decided event: released only when the whole
// turn goes to the client. Held calls are marked by pause afterwards.
func settle(decided []gate.Decision, evs []audit.Event, recs []agent.ToolCallRecord, refused, held bool) {
	status, reason := StatusReleased, ""
	switch {
	case refused:
		status, reason = StatusNotReleased, withheldRefused
	case held:
		status, reason = StatusNotReleased, withheldHeld
	}
	for i, d := range decided {
		if d.Verdict != gate.Allow {
			continue
		}
		recs[i].Status = status
		if reason != "" {
			recs[i].Reason = reason
		}
		if reason != "" && evs[i].Type == audit.TypeToolDecided { // not an approval.requested
			evs[i].Outcome, evs[i].Reason = status, reason
		}
	}
}
