// Package agent runs an agent: model turns and tool calls until a final
// answer. Every tool call passes the policy gate at the moment it would run,
// and its allow decision is durable in the audit log before the tool starts.
package agent

import (
	"errors"
	"fmt"
	"time"

	"github.com/gatehousehq/gatehouse/internal/gate"
	"github.com/gatehousehq/gatehouse/internal/llm"
)

// Tool is a tool as one agent offers it (the gate's Tool).
type Tool = gate.Tool

// Limits bound a run.
type Limits struct {
	MaxToolRounds    int
	MaxToolCalls     int
	MaxParallelTools int // tool calls of one round that run at once (more wait their turn)
	ToolTimeout      time.Duration
	RunTimeout       time.Duration
}

// Agent is a named assistant.
type Agent struct {
	Name          string
	SystemMessage string
	Model         string // empty = the provider's default
	Tools         map[string]*Tool
	Order         []string // tool names in config order, for a stable tool list
	Limits        Limits
}

// Errors a run can end with; the HTTP layer maps them to statuses.
var (
	ErrRunTimeout = errors.New("run timed out")
	// ErrLimit means a run limit was reached before a final answer.
	ErrLimit = errors.New("run limit reached")
)

// LimitError says which limit ended the run.
type LimitError struct {
	Limit string
	Value int    // the limit (milliseconds for tool_timeout)
	Tool  string // for tool_timeout
}

func (e *LimitError) Error() string {
	if e.Limit == "tool_timeout" {
		return fmt.Sprintf("tool %s ran longer than tool_timeout (%dms); the run was stopped", e.Tool, e.Value)
	}
	return fmt.Sprintf("the run reached %s (%d) before a final answer", e.Limit, e.Value)
}

// Unwrap makes errors.Is(err, ErrLimit) hold.
func (e *LimitError) Unwrap() error { return ErrLimit }

// ToolCallRecord is one tool call as reported to the caller.
type ToolCallRecord struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
	Decision  string `json:"decision"`
	Rule      string `json:"rule,omitempty"`
	Reason    string `json:"reason"` // always present (SPEC); empty for most allowed calls
	Status    string `json:"status"` // ok | error | denied | invalid_arguments | not_run | awaiting_approval
}

// RunResult is a finished run's answer as GET /v1/runs/{id} shows it, the
// same for every kind of run that was paused for approval.
type RunResult struct {
	Response  string           `json:"response"`
	Model     string           `json:"model"`
	ToolCalls []ToolCallRecord `json:"tool_calls"`
	Usage     llm.Usage        `json:"usage"`
}

// Result is a finished run.
type Result struct {
	Response  string
	Model     string
	ToolCalls []ToolCallRecord
	Usage     llm.Usage
	// Messages are the run's new messages (user, assistant, tool), for the session.
	Messages []llm.Message
	// Paused is set when the run stopped at calls awaiting approval.
	Paused *Paused
	// AuditEvents are the ids (CHAIN:SEQ) of the run's audit events, from
	// its start to its end, for receipts (GET /v1/audit/proof/{id}).
	AuditEvents []string
}
