package gatehouse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehousehq/gatehouse/internal/config"
	"github.com/gatehousehq/gatehouse/internal/principal"
	"github.com/gatehousehq/gatehouse/internal/tools"
	"github.com/gatehousehq/gatehouse/internal/tools/httptool"
)

func noop(context.Context, Call) (any, error) { return "ok", nil }

func TestRegister_RefusesInvalidDefinitions(t *testing.T) {
	valid := ToolDef{Name: "lookup", Policy: Policy{Permission: "read"}, Func: noop}
	tests := []struct {
		name   string
		edit   func(*ToolDef)
		wantIn string
	}{
		{"bad name", func(d *ToolDef) { d.Name = "look up" }, "name must be"},
		{"empty name", func(d *ToolDef) { d.Name = "" }, "name must be"},
		{"leading digit", func(d *ToolDef) { d.Name = "1lookup" }, "name must be"}, // config would refuse it at Serve
		{"nil func", func(d *ToolDef) { d.Func = nil }, "func is nil"},
		{"no permission", func(d *ToolDef) { d.Policy.Permission = "" }, "needs a permission"},
		{"bad schema", func(d *ToolDef) { d.Parameters = json.RawMessage(`{"type":"object","oneOf":[]}`) }, `unsupported keyword "oneOf"`},
		{"condition not bool", func(d *ToolDef) { d.Policy.Condition = `principal.subject` }, "must yield bool"},
		{"condition syntax", func(d *ToolDef) { d.Policy.Condition = `args.x ==` }, "condition: 1:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			def := valid
			tt.edit(&def)
			err := NewRegistry().Register(def)
			if err == nil || !strings.Contains(err.Error(), tt.wantIn) {
				t.Errorf("Register error = %v, want one containing %q", err, tt.wantIn)
			}
		})
	}
}

// TestRegister_NameRuleIsTheConfigRule: a name Register accepts is one the
// config accepts, and an HTTP tool too, so no copy of the rule drifts.
func TestRegister_NameRuleIsTheConfigRule(t *testing.T) {
	const cfg = `
auth: {api_keys: [{subject: bot, sha256: "%s", roles: [agent]}]}
authz: {roles: {agent: [read]}}
tools: {%q: {type: http, url: "http://127.0.0.1:9/x", permission: read}}
agents: {a: {tools: []}}
audit: {dsn: "sqlite:///tmp/a.db"}
sessions: {dsn: "sqlite:///tmp/s.db"}
`
	for _, name := range []string{"lookup", "a", "crm_lookup-2", strings.Repeat("x", 64), strings.Repeat("x", 65),
		"1lookup", "_lookup", "-lookup", "look.up", "look up", "", "lookup\n", "lо"} {
		regErr := NewRegistry().Register(ToolDef{Name: name, Policy: Policy{Permission: "read"}, Func: noop})
		_, cfgErr := config.Parse([]byte(fmt.Sprintf(cfg, strings.Repeat("ab", 32), name)), func(string) string { return "" })
		_, httpErr := httptool.New(httptool.Config{Name: name, URL: "http://127.0.0.1:9/x"})
		if (regErr == nil) != (cfgErr == nil) || (regErr == nil) != (httpErr == nil) {
			t.Errorf("name %q: Register: %v; config: %v; http tool: %v", name, regErr, cfgErr, httpErr)
		}
	}
}

func TestRegister_RefusesDuplicateName(t *testing.T) {
	reg := NewRegistry()
	def := ToolDef{Name: "lookup", Policy: Policy{Permission: "read"}, Func: noop}
	if err := reg.Register(def); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(def); !errors.Is(err, ErrDuplicateTool) {
		t.Errorf("second Register error = %v, want ErrDuplicateTool", err)
	}
}

func TestTools_ListsSortedWithDefaultParameters(t *testing.T) {
	reg := NewRegistry()
	for _, name := range []string{"zeta", "alpha"} {
		if err := reg.Register(ToolDef{Name: name, Description: name + " tool", Policy: Policy{Permission: "read", Condition: `tool.name == "` + name + `"`}, Func: noop}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, tool := range reg.Tools() {
		got = append(got, tool.Name+" "+tool.Description+" "+string(tool.Parameters)+" "+tool.Policy.Condition)
	}
	want := []string{
		`alpha alpha tool {"type":"object","properties":{}} tool.name == "alpha"`,
		`zeta zeta tool {"type":"object","properties":{}} tool.name == "zeta"`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Tools (-want +got):\n%s", diff)
	}
}

func TestTools_ReturnsCopiesOfParameters(t *testing.T) {
	reg := NewRegistry()
	params := json.RawMessage(`{"type":"object","properties":{"a":{"type":"string"}}}`)
	if err := reg.Register(ToolDef{Name: "t", Parameters: params, Policy: Policy{Permission: "read"}, Func: noop}); err != nil {
		t.Fatal(err)
	}
	params[0] = 'X'
	reg.Tools()[0].Parameters[0] = 'Y'
	if got := reg.Tools()[0].Parameters[0]; got != '{' {
		t.Errorf("registered parameters changed through a caller's slice: %q", got)
	}
}

// The principal is shared by the run's other tool calls (which run in
// parallel and are authorized with it) and by its audit events: a tool
// function changing its Caller must not change it.
func TestGoTool_CallerIsACopyOfThePrincipal(t *testing.T) {
	reg := NewRegistry()
	err := reg.Register(ToolDef{
		Name: "meddle", Policy: Policy{Permission: "read"},
		Func: func(_ context.Context, c Call) (any, error) {
			c.Caller.Roles[0] = "admin"
			c.Caller.Claims["customer_id"] = "C-200"
			c.Caller.Claims["org"].(map[string]any)["id"] = "other"
			return "ok", nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	p := &principal.Principal{
		Subject: "ada", Roles: []string{"customer"},
		Claims: map[string]any{"customer_id": "C-100", "org": map[string]any{"id": "acme"}},
	}
	if _, err := (goTool{reg.Tools()[0]}).Call(principal.With(context.Background(), p), tools.Args{}); err != nil {
		t.Fatal(err)
	}
	want := &principal.Principal{
		Subject: "ada", Roles: []string{"customer"},
		Claims: map[string]any{"customer_id": "C-100", "org": map[string]any{"id": "acme"}},
	}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("principal changed by the tool (-want +got):\n%s", diff)
	}
}

// A Go tool learns how and by whom its caller was verified, not only the
// subject: the same subject from another issuer is someone else.
func TestGoTool_CallerCarriesMethodAndIssuer(t *testing.T) {
	reg := NewRegistry()
	var got Caller
	if err := reg.Register(ToolDef{Name: "who", Policy: Policy{Permission: "read"},
		Func: func(_ context.Context, c Call) (any, error) { got = c.Caller; return "ok", nil }}); err != nil {
		t.Fatal(err)
	}
	p := &principal.Principal{Subject: "ops-bot", Method: principal.MethodJWT, Issuer: "https://partner-idp.example/"}
	if _, err := (goTool{reg.Tools()[0]}).Call(principal.With(context.Background(), p), tools.Args{}); err != nil {
		t.Fatal(err)
	}
	if got.Subject != "ops-bot" || got.Method != "jwt" || got.Issuer != "https://partner-idp.example/" {
		t.Errorf("caller %+v; want subject, method jwt and the issuer", got)
	}
}
