package gatehouse_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/gatehousehq/gatehouse/gatehouse"
)

func ExampleRegistry_Register() {
	reg := gatehouse.NewRegistry()
	err := reg.Register(gatehouse.ToolDef{
		Name:        "invoice_lookup",
		Description: "Look up a customer's open invoices.",
		Parameters: json.RawMessage(`{
			"type": "object",
			"properties": {"customer_id": {"type": "string", "pattern": "^C-[0-9]+$"}},
			"required": ["customer_id"]
		}`),
		Policy: gatehouse.Policy{
			Permission: "invoices.read",
			Condition:  `args.customer_id == principal.claims.customer_id || "admin" in principal.roles`,
		},
		Func: func(ctx context.Context, call gatehouse.Call) (any, error) {
			return map[string]any{"customer_id": call.Args["customer_id"], "open": 2}, nil
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	// Gatehouse invokes a tool only after the schema and the policy passed.
	tool := reg.Tools()[0]
	out, _ := tool.Invoke(context.Background(), gatehouse.Call{
		Caller: gatehouse.Caller{Subject: "customer", Roles: []string{"customer"}, Claims: map[string]any{"customer_id": "C-100"}},
		Args:   gatehouse.Args{"customer_id": "C-100"},
	})
	fmt.Println(tool.Name, tool.Policy.Permission, out)

	// A condition that does not compile is refused, with its position.
	err = reg.Register(gatehouse.ToolDef{
		Name:   "broken",
		Policy: gatehouse.Policy{Permission: "x", Condition: `principal.subjet == "a"`},
		Func:   func(context.Context, gatehouse.Call) (any, error) { return nil, nil },
	})
	fmt.Println(err)
	// Output:
	// invoice_lookup invoices.read map[customer_id:C-100 open:2]
	// register tool "broken": condition: 1:10: undefined field 'subjet'
}
