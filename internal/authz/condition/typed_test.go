package condition

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/principal"
)

const paymentSchema = `{"type": "object", "required": ["amount", "to"], "properties": {
	"amount": {"type": "number"}, "count": {"type": "integer"}, "to": {"type": "string"},
	"urgent": {"type": "boolean"}, "tags": {"type": "array", "items": {"type": "string"}},
	"meta": {"type": "object", "properties": {"channel": {"type": "string"}}}}}`

func TestCompileFor_ChecksArgumentsAgainstTheToolSchema(t *testing.T) {
	env, err := NewEnv()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, expr, want string // want "": compiles
	}{
		{"declared number against an int", `args.amount > 100`, ""},
		{"declared number against a double", `args.amount <= 100.5`, ""},
		{"string method", `args.to.endsWith("@bank.example")`, ""},
		{"list of strings", `"vip" in args.tags && args.count < 3`, ""},
		{"nested object", `args.meta.channel == "web" && !args.urgent`, ""},
		{"presence of a declared field", `has(args.urgent) || principal.subject == "x"`, ""},
		{"claims stay dynamic", `args.to == principal.claims.email`, ""},
		{"now is a timestamp", `now.getHours("UTC") < 18 && args.amount < 10.0`, ""},
		{"typo in an argument", `args.amout > 100`, "1:5: undefined field 'amout' (the tool's arguments are: amount, count, meta, tags, to, urgent)"},
		{"typo in a nested field", `args.meta.chanel == "web"`, "undefined field 'chanel'"},
		{"typo under has", `has(args.urgnet)`, "undefined field 'urgnet'"},
		{"string compared with a number", `args.to > 3`, "no matching overload for '_>_' applied to '(string, int)'"},
		{"number used as a string", `args.amount.startsWith("1")`, "found no matching overload for 'startsWith'"},
		{"boolean compared with a string", `args.urgent == "yes"`, "no matching overload for '_==_' applied to '(bool, string)'"},
		{"list element misused", `args.tags[0] > 1`, "applied to '(string, int)'"},
		{"principal field typo still caught", `principal.rolez == []`, "undefined field 'rolez'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := env.CompileFor(tt.expr, json.RawMessage(paymentSchema))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("CompileFor(%q): %v", tt.expr, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("CompileFor(%q) = %v, want an error with %q", tt.expr, err, tt.want)
			}
		})
	}
}

// TestCompileFor_WithoutSchemaArgsStayDynamic: an MCP server's tool has
// no schema at load, so its conditions are checked as before.
func TestCompileFor_WithoutSchemaArgsStayDynamic(t *testing.T) {
	env, err := NewEnv()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.CompileFor(`args.amout > 100`, nil); err != nil {
		t.Fatalf("no schema: %v", err)
	}
}

// TestCompileFor_RunsAsBefore: a checked condition evaluates over the
// decoded arguments map, numbers compared across int and double.
func TestCompileFor_RunsAsBefore(t *testing.T) {
	env, err := NewEnv()
	if err != nil {
		t.Fatal(err)
	}
	c, err := env.CompileFor(`args.amount > 100 && args.meta.channel == "web"`, json.RawMessage(paymentSchema))
	if err != nil {
		t.Fatal(err)
	}
	p := &principal.Principal{Subject: "s"}
	for amount, want := range map[float64]bool{100: false, 100.5: true} {
		got, err := c.Eval(context.Background(), p, ToolInfo{Name: "pay"}, map[string]any{"amount": amount, "meta": map[string]any{"channel": "web"}})
		if err != nil || got != want {
			t.Errorf("amount %v: Eval = %v, %v; want %v", amount, got, err, want)
		}
	}
}

func TestEval_NowIsTheContextsTime(t *testing.T) {
	c, err := Compile(`now.getHours("UTC") < 18`)
	if err != nil {
		t.Fatal(err)
	}
	p := &principal.Principal{Subject: "s"}
	for hour, want := range map[int]bool{9: true, 17: true, 18: false, 23: false} {
		ctx := WithNow(context.Background(), time.Date(2026, 3, 2, hour, 30, 0, 0, time.UTC))
		got, err := c.Eval(ctx, p, ToolInfo{Name: "t"}, nil)
		if err != nil || got != want {
			t.Errorf("%d:30: Eval = %v, %v; want %v", hour, got, err, want)
		}
	}
}

func TestConstant_ConditionsReadingNothingOfTheCall(t *testing.T) {
	for expr, want := range map[string]bool{
		`true`:                       true,
		`1 < 2 && "a" == "a"`:        true,
		`args.amount > 1`:            false,
		`"admin" in principal.roles`: false,
		`tool.name == "x"`:           false,
		`now > timestamp("2026-01-01T00:00:00Z")`: false,
	} {
		c, err := Compile(expr)
		if err != nil {
			t.Fatalf("Compile(%q): %v", expr, err)
		}
		if c.Constant() != want {
			t.Errorf("Constant(%q) = %v, want %v", expr, c.Constant(), want)
		}
	}
}

func TestClaimsRead_NamesTheClaimsAConditionReads(t *testing.T) {
	tests := []struct {
		expr  string
		names []string
		all   bool
	}{
		{`args.x == principal.claims.customer_id || "admin" in principal.roles`, []string{"customer_id"}, false},
		{`has(principal.claims.tier) && principal.claims["region"] == "eu" && principal.claims.tier == "gold"`, []string{"region", "tier"}, false},
		{`principal.subject == "a"`, nil, false},
		{`"x" in principal.claims`, nil, true},
		{`principal.claims.exists(k, k == "x") || principal.claims.a == 1`, []string{"a"}, true},
		{`principal.claims[args.k] == 1`, nil, true},
	}
	for _, tt := range tests {
		c, err := Compile(tt.expr)
		if err != nil {
			t.Fatalf("Compile(%q): %v", tt.expr, err)
		}
		names, all := c.ClaimsRead()
		if !slices.Equal(names, tt.names) || all != tt.all {
			t.Errorf("ClaimsRead(%q) = %q, %v; want %q, %v", tt.expr, names, all, tt.names, tt.all)
		}
	}
}
