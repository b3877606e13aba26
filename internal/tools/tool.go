// Package tools defines the functions a model may call: their specs, the
// registry an agent draws from, and the builtin demo tools.
package tools

import (
	"context"
	"encoding/json"
)

// Spec is what the model is shown of a tool.
type Spec struct {
	Name        string
	Description string
	// Parameters is the JSON schema of the arguments object.
	Parameters json.RawMessage
}

// Args are a tool call's arguments, decoded once and validated against the
// tool's schema. The same value is what the policy evaluated and what the
// tool receives.
type Args map[string]any

// Tool is a callable function. The verified principal reaches it through ctx
// (principal.From), never through Args.
type Tool interface {
	Spec() Spec
	// Call runs the tool. The result is encoded as JSON for the model. An
	// error is answered to the model as a tool error; its message must be
	// safe to show (no secrets, no internals).
	Call(ctx context.Context, args Args) (any, error)
}

// Disabler is a tool that can be switched off while configured: an MCP tool
// whose server no longer presents it as pinned. A disabled tool is not
// offered and its calls are refused.
type Disabler interface {
	// Disabled says why the tool is off, "" when it is on.
	Disabled() string
}

// DisabledReason is why t is off, "" when it is on (or cannot be switched off).
func DisabledReason(t Tool) string {
	if d, ok := t.(Disabler); ok {
		return d.Disabled()
	}
	return ""
}
