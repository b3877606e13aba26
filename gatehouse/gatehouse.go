// Package gatehouse lets a Go program give a Gatehouse agent its own tools.
//
// A tool is a function with a JSON schema for its arguments and a policy:
// the permission a caller needs and an optional CEL condition over the
// caller, the arguments and the tool. Gatehouse shows the model only the
// tools a caller may use, decodes each call's arguments once against the
// schema, checks the policy with those arguments, and only then calls the
// function, with the verified caller in Call.Caller. A function never sees
// arguments that failed the schema or a call its policy denied.
//
// Register tools on a Registry and hand it to the server.
package gatehouse

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/gatehousehq/gatehouse/internal/authz/condition"
	"github.com/gatehousehq/gatehouse/internal/tools"
	"github.com/gatehousehq/gatehouse/internal/tools/schema"
)

// Caller is the verified identity a tool runs for. It comes from
// authentication, never from anything the model chose.
type Caller struct {
	// Subject is one identity only together with Method and Issuer: the
	// same subject from another issuer, or an API key named alike, is
	// someone else. A tool scoping data by caller uses all three.
	Subject string
	Method  string // api_key, jwt or mtls
	Issuer  string // the JWT issuer or the client certificate's issuer; empty for API keys
	Roles   []string
	// Claims are the verified token claims, or the API key's attributes.
	Claims map[string]any
}

// Args are a call's arguments, validated against the tool's schema: strings
// are string, integers int64, numbers float64, booleans bool, arrays []any
// and objects map[string]any. They are the exact values the policy checked.
type Args map[string]any

// Call is one authorized invocation of a tool.
type Call struct {
	Caller Caller
	Args   Args
}

// ToolFunc runs a tool. The result is encoded as JSON for the model. An
// error is answered to the model as a tool error, so its message must be
// safe to show: no secrets, no internals.
type ToolFunc func(ctx context.Context, call Call) (any, error)

// Policy says who may call a tool.
type Policy struct {
	// Permission is required; a caller's roles must grant it.
	Permission string
	// Condition is an optional CEL expression over principal (subject,
	// roles, scopes, claims, method, issuer), args and tool (name,
	// permission) that must yield true, e.g.
	//	args.customer_id == principal.claims.customer_id
	// An evaluation error denies the call.
	Condition string
}

// ToolDef defines a tool to register.
type ToolDef struct {
	// Name is what the model calls: 1-64 letters, digits, _ or -, starting
	// with a letter (the rule config validation applies too).
	Name        string
	Description string
	// Parameters is the JSON schema of the arguments: type object with
	// properties of type string, integer, number, boolean, array (of those)
	// or object, and the keywords enum, required, description, minLength,
	// maxLength, pattern, minimum and maximum. Unknown argument keys are
	// always refused. Empty means the tool takes no arguments.
	Parameters json.RawMessage
	Policy     Policy
	Func       ToolFunc
}

// Tool is a registered, validated tool.
type Tool struct {
	Name        string
	Description string
	Parameters  json.RawMessage
	Policy      Policy
	fn          ToolFunc
}

// Invoke runs the tool's function. Gatehouse calls it only after the
// arguments passed the schema and the call passed the policy.
func (t Tool) Invoke(ctx context.Context, call Call) (any, error) { return t.fn(ctx, call) }

// ErrDuplicateTool is returned by Register for a name already registered.
var ErrDuplicateTool = errors.New("tool already registered")

// Registry holds a program's tools. It is safe for concurrent use.
type Registry struct {
	mu    sync.Mutex
	env   *condition.Env
	tools map[string]Tool
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{tools: map[string]Tool{}} }

// Register validates def and adds it: the name, the schema and the policy's
// condition must all be valid, and the name unused.
func (r *Registry) Register(def ToolDef) error {
	if err := r.register(def); err != nil {
		return fmt.Errorf("register tool %q: %w", def.Name, err)
	}
	return nil
}

func (r *Registry) register(def ToolDef) error {
	if !tools.ValidName(def.Name) {
		return errors.New("name must be " + tools.NameRule)
	}
	if def.Func == nil {
		return errors.New("func is nil")
	}
	if def.Policy.Permission == "" {
		return errors.New("policy needs a permission")
	}
	params := def.Parameters
	if len(params) == 0 {
		params = tools.EmptySchema()
	}
	if _, err := schema.Compile(params); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.tools[def.Name]; dup {
		return ErrDuplicateTool
	}
	if def.Policy.Condition != "" {
		if r.env == nil {
			env, err := condition.NewEnv()
			if err != nil {
				return err
			}
			r.env = env
		}
		if _, err := r.env.Compile(def.Policy.Condition); err != nil {
			return fmt.Errorf("condition: %w", err)
		}
	}
	r.tools[def.Name] = Tool{
		Name:        def.Name,
		Description: def.Description,
		Parameters:  slices.Clone(params),
		Policy:      def.Policy,
		fn:          def.Func,
	}
	return nil
}

// Tools returns the registered tools, sorted by name.
func (r *Registry) Tools() []Tool {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Tool, 0, len(r.tools))
	for _, t := range r.tools {
		t.Parameters = slices.Clone(t.Parameters)
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b Tool) int { return cmp.Compare(a.Name, b.Name) })
	return out
}
