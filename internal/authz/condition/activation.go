package condition

import (
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
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }
