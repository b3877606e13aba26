// Package condition compiles and evaluates the CEL conditions of tool
// policies: expressions over the calling principal, the call's arguments and
// the tool, such as
//
//	args.customer_id == principal.claims.customer_id || "admin" in principal.roles
//
// and now, the time of the call (a timestamp: now.getHours("Europe/London")
// < 18). Conditions are compiled and type-checked once, when the config loads, so a
// bad expression is reported with its position before anything serves. At
// run time a condition either evaluates to true, or the call is denied: a
// runtime error (a missing claim, a type mismatch, the cost limit) is a deny,
// never an allow.
package condition

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"

	"github.com/gatehousehq/gatehouse/internal/authz"
	"github.com/gatehousehq/gatehouse/internal/principal"
)

const (
	// costLimit bounds the work one evaluation may do. The conditions this is
	// made for cost well under 100; the limit only stops pathological
	// comprehensions over large claims or arguments.
	costLimit = 10_000
	// maxExpressionSize bounds the source text of one condition.
	maxExpressionSize = 4096
	// interruptEvery is how many comprehension iterations run between checks
	// of the context.
	interruptEvery = 100
)

// Principal is the view of the caller a condition sees as `principal`.
type Principal struct {
	Subject string         `cel:"subject"`
	Roles   []string       `cel:"roles"`
	Scopes  []string       `cel:"scopes"`
	Claims  map[string]any `cel:"claims"`
	Method  string         `cel:"method"`
	Issuer  string         `cel:"issuer"`
	// Actor is the delegation chain, nearest actor first; empty when the
	// subject acts itself.
	Actor []Actor `cel:"actor"`
}

// Actor is one party of the chain as a condition sees it.
type Actor struct {
	Subject  string `cel:"subject"`
	ClientID string `cel:"client_id"`
}

// ToolInfo is the view of the tool a condition sees as `tool`.
type ToolInfo struct {
	Name       string `cel:"name"`
	Permission string `cel:"permission"`
}

// Error is a compile error of a condition, with the 1-based position of the
// first problem in the expression.
type Error struct {
	Line, Column int
	Msg          string
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return e.Msg
	}
	return fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Msg)
}

// Condition is a compiled condition. It is safe for concurrent use.
type Condition struct {
	expr     string
	prg      cel.Program
	constant bool
	// claims the expression reads by name; allClaims: by other means too.
	claims    []string
	allClaims bool
}

// Env holds the declarations every condition is checked against. One Env is
// shared by all conditions; it is safe for concurrent use.
type Env struct {
	env *cel.Env
}

// NewEnv builds the CEL environment of tool conditions.
func NewEnv() (*Env, error) {
	env, err := cel.NewEnv(envOptions(cel.MapType(cel.StringType, cel.DynType))...)
	if err != nil {
		return nil, fmt.Errorf("build condition environment: %w", err)
	}
	return &Env{env: env}, nil
}

// Compile parses and type-checks expr in a fresh environment. Callers
// compiling many conditions should build one Env and use Env.Compile.
func Compile(expr string) (*Condition, error) {
	env, err := NewEnv()
	if err != nil {
		return nil, err
	}
	return env.Compile(expr)
}

// Compile parses and type-checks expr. The expression must yield a bool. A
// returned *Error carries the position of the problem.
func (e *Env) Compile(expr string) (*Condition, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, &Error{Msg: "condition is empty"}
	}
	ast, iss := e.env.Compile(expr)
	if iss.Err() != nil {
		return nil, issueError(iss)
	}
	if !ast.OutputType().IsExactType(types.BoolType) {
		return nil, &Error{Line: 1, Column: 1, Msg: fmt.Sprintf("condition must yield bool, not %s", cel.FormatCELType(ast.OutputType()))}
	}
	prg, err := e.env.Program(ast,
		cel.CostLimit(costLimit),
		cel.InterruptCheckFrequency(interruptEvery),
		cel.EvalOptions(cel.OptOptimize),
	)
	if err != nil {
		return nil, fmt.Errorf("plan condition: %w", err)
	}
	claims, all := claimsRead(ast.NativeRep().Expr())
	return &Condition{expr: expr, prg: prg, constant: !readsVariables(ast), claims: claims, allClaims: all}, nil
}

// readsVariables reports whether a checked expression refers to any of
// the variables (principal, tool, args, now).
func readsVariables(ast *cel.Ast) bool {
	for _, ref := range ast.NativeRep().ReferenceMap() {
		switch ref.Name {
		case "principal", "tool", "args", "now":
			return true
		}
	}
	return false
}

// Constant reports whether the condition reads nothing of the call (no
// principal, tool, args or now): its value is the same for every call, so
// it either allows everything its permission allows or denies everything.
func (c *Condition) Constant() bool { return c.constant }

// envOptions are the declarations of every condition, args being of
// argsType: a map of any values where conditions are planned, a tool's own
// object type where they are checked (CompileFor).
func envOptions(argsType *cel.Type) []cel.EnvOption {
	return append([]cel.EnvOption{
		cel.Types(
			cel.NativeTypeFor[Principal](cel.NativeTypeAlias("gatehouse.Principal"), types.ParseStructTags(true)),
			cel.NativeTypeFor[ToolInfo](cel.NativeTypeAlias("gatehouse.Tool"), types.ParseStructTags(true)),
			cel.NativeTypeFor[Actor](cel.NativeTypeAlias("gatehouse.Actor"), types.ParseStructTags(true)),
		),
		cel.Variable("principal", cel.ObjectType("gatehouse.Principal")),
		cel.Variable("tool", cel.ObjectType("gatehouse.Tool")),
		cel.Variable("args", argsType),
		cel.Variable("now", cel.TimestampType),
		// findings: what data protection found in the arguments, each
		// {type, path} — findings.exists(f, f.type == "card").
		cel.Variable("findings", cel.ListType(cel.MapType(cel.StringType, cel.StringType))),
		// args.amount > 100 for a number amount: the checker knows amount
		// is a double since args are typed by the tool's schema.
		cel.CrossTypeNumericComparisons(true),
		cel.ParserExpressionSizeLimit(maxExpressionSize),
	}, helpers()...)
}

func issueError(iss *cel.Issues) error {
	errs := iss.Errors()
	if len(errs) == 0 {
		return &Error{Msg: iss.String()}
	}
	first := errs[0]
	msg := first.Message
	if n := len(errs) - 1; n > 0 {
		msg = fmt.Sprintf("%s (and %d more)", msg, n)
	}
	return &Error{Line: first.Location.Line(), Column: first.Location.Column() + 1, Msg: msg}
}

// String returns the source of the condition.
func (c *Condition) String() string { return c.expr }

// ErrNoPrincipal is returned by Eval when it is called without a caller.
var ErrNoPrincipal = errors.New("no principal")

// Eval evaluates the condition for one call. It reports true only when the
// expression evaluated to true; any error (a missing key, a type mismatch,
// the cost limit, a cancelled ctx) yields false and an error the caller
// records as the deny reason.
func (c *Condition) Eval(ctx context.Context, p *principal.Principal, tool ToolInfo, args map[string]any) (bool, error) {
	if p == nil {
		return false, ErrNoPrincipal
	}
	act := &activation{
		principal: &Principal{
			Subject: p.Subject,
			Roles:   p.Roles,
			Scopes:  p.Scopes,
			Claims:  p.Claims,
			Method:  string(p.Method),
			Issuer:  p.Issuer,
			Actor:   actors(p.Actor),
		},
		tool:     &tool,
		args:     args,
		now:      Now(ctx),
		findings: authz.FindingsFrom(ctx),
	}
	out, _, err := c.prg.ContextEval(ctx, act)
	if err != nil {
		return false, fmt.Errorf("evaluate condition: %w", err)
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("evaluate condition: result is %s, not bool", out.Type())
	}
	return bool(b), nil
}

// actors is the chain as conditions see it: an empty list, never null, for
// a subject acting itself.
func actors(chain []principal.Actor) []Actor {
	out := make([]Actor, len(chain))
	for i, a := range chain {
		out[i] = Actor{Subject: a.Subject, ClientID: a.ClientID}
	}
	return out
}
