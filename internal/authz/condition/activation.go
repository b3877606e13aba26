package condition

import (
	"context"
	"time"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/interpreter"

	"github.com/gatehousehq/gatehouse/internal/authz"
)

// activation binds the three condition variables without building a map per
// evaluation.
type activation struct {
	principal *Principal
	tool      *ToolInfo
	args      map[string]any
	findings  []authz.Finding
	now       time.Time
}

var _ interpreter.Activation = (*activation)(nil)

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "principal":
		return a.principal, true
	case "tool":
		return a.tool, true
	case "findings":
		out := make([]map[string]string, len(a.findings))
		for i, f := range a.findings {
			out[i] = map[string]string{"type": f.Type, "path": f.Path}
		}
		return out, true
	case "args":
		if a.args == nil {
			return map[string]any{}, true
		}
		return a.args, true
	case "now":
		return types.Timestamp{Time: a.now}, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

type nowKey struct{}

// WithNow returns ctx carrying the time conditions see as now: the gate's
// clock (gate.Gate.Now), or the fixed now of a policy test.
func WithNow(ctx context.Context, t time.Time) context.Context {
	return context.WithValue(ctx, nowKey{}, t)
}

// Now is the time conditions evaluated under ctx see: the one WithNow
// set, else the current time.
func Now(ctx context.Context) time.Time {
	if t, ok := ctx.Value(nowKey{}).(time.Time); ok {
		return t
	}
	return time.Now()
}
