package gatehouse

import (
	"context"
	"encoding/json"
	"errors"
	"io"

	"github.com/gatehousehq/gatehouse/internal/app"
	"github.com/gatehousehq/gatehouse/internal/principal"
	"github.com/gatehousehq/gatehouse/internal/tools"
)

// ServeOptions say how to run gatehouse around a program's own tools.
type ServeOptions struct {
	// ConfigPath is the gatehouse config file. Agents list registered tools
	// by name in their tools; the config may redeclare a registered tool
	// with type: go to set its permission and condition, but not replace it.
	ConfigPath string
	// Addr overrides server.addr when set.
	Addr string
	// Getenv resolves ${VAR} in the config and the model's API key; nil
	// means no environment.
	Getenv func(string) string
	// Stdout receives the start-up line; Stderr the JSON logs.
	Stdout, Stderr io.Writer
	// Listening is called with the base URL once connections are accepted.
	Listening func(baseURL string)
}

// Serve runs gatehouse with the registry's tools until ctx ends. Every call
// of a registered tool passes the same policy gate and audit log as the
// builtin tools; Func sees only the verified caller and validated Args.
func Serve(ctx context.Context, reg *Registry, o ServeOptions) error {
	if o.ConfigPath == "" {
		return errors.New("gatehouse: ServeOptions.ConfigPath is required")
	}
	goTools := map[string]app.GoTool{}
	for _, t := range reg.Tools() {
		goTools[t.Name] = app.GoTool{Impl: goTool{t}, Permission: t.Policy.Permission, Condition: t.Policy.Condition}
	}
	return app.Run(ctx, app.Options{
		ConfigPath: o.ConfigPath, Addr: o.Addr, Getenv: o.Getenv,
		Stdout: o.Stdout, Stderr: o.Stderr, Listening: o.Listening, GoTools: goTools,
	})
}

// goTool adapts a registered Tool to the internal tool contract.
type goTool struct{ t Tool }

func (g goTool) Spec() tools.Spec {
	return tools.Spec{Name: g.t.Name, Description: g.t.Description, Parameters: json.RawMessage(g.t.Parameters)}
}

func (g goTool) Call(ctx context.Context, a tools.Args) (any, error) {
	p := principal.From(ctx)
	if p == nil {
		return nil, errors.New("no verified caller")
	}
	// The principal is shared with the run's other (parallel) tool calls and
	// its audit events; the function gets a copy it may change freely.
	cp := p.Clone()
	caller := Caller{Subject: cp.Subject, Method: string(cp.Method), Issuer: cp.Issuer, Roles: cp.Roles, Claims: cp.Claims}
	return g.t.Invoke(ctx, Call{Caller: caller, Args: Args(a)})
}
