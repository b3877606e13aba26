package condition

import (
	"context"
	"testing"

	"github.com/gatehousehq/gatehouse/internal/principal"
)

// FuzzCompileEval checks that no expression, however hostile, panics at
// compile or evaluation time, and that evaluation allows only on true.
func FuzzCompileEval(f *testing.F) {
	for _, seed := range []string{
		ownPayments, `args.a.b.c == 1`, `principal.claims.x[0] == "y"`, `[1,2,3].all(x, x > 0)`,
		`args.items.map(x, x + x).size() > 0`, `"a".matches("(a+)+$")`, `int(args.n) / 0 == 1`,
		`((((((((((true))))))))))`, `principal.roles.exists(r, r == "admin")`, `has(args.x) && args.x`,
	} {
		f.Add(seed)
	}
	env, err := NewEnv()
	if err != nil {
		f.Fatal(err)
	}
	p := &principal.Principal{
		Subject: "s", Roles: []string{"customer"}, Method: principal.MethodJWT,
		Claims: map[string]any{"customer_id": "C-100", "x": []any{"y"}, "level": float64(2)},
	}
	args := map[string]any{"customer_id": "C-100", "n": int64(3), "items": []any{"a", "b"}, "a": map[string]any{"b": map[string]any{"c": int64(1)}}}
	f.Fuzz(func(t *testing.T, expr string) {
		c, err := env.Compile(expr)
		if err != nil {
			return
		}
		ok, err := c.Eval(context.Background(), p, paymentsTool, args)
		if ok && err != nil {
			t.Fatalf("Eval(%q) = true with error %v", expr, err)
		}
	})
}
