package condition

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse/internal/principal"
)

const ownPayments = `args.customer_id == principal.claims.customer_id || "admin" in principal.roles`

var paymentsTool = ToolInfo{Name: "payments_lookup", Permission: "payments.read"}

func customer(id string) *principal.Principal {
	return &principal.Principal{
		Subject: "customer", Roles: []string{"customer"}, Method: principal.MethodAPIKey,
		Claims: map[string]any{"customer_id": id},
	}
}

func TestCompile_RejectsBadExpressionsWithPosition(t *testing.T) {
	tests := []struct {
		name, expr, wantPos, wantMsg string
	}{
		{"syntax error", `args.customer_id ==`, "1:20", "Syntax error"},
		{"undeclared variable", `user.subject == "x"`, "1:1", "undeclared reference"},
		{"misspelled principal field", `principal.subjet == "x"`, "1:10", "undefined field 'subjet'"},
		{"second line", "principal.subject == \"a\" &&\n  tool.nam == \"b\"", "2:7", "undefined field 'nam'"},
		{"non-bool result", `principal.subject`, "1:1", "must yield bool"},
		{"dyn result", `args.flag`, "1:1", "must yield bool"},
		{"type mismatch", `principal.roles == "admin"`, "1:17", "no matching overload"},
		{"empty", `  `, "", "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Compile(tt.expr)
			if err == nil {
				t.Fatalf("Compile(%q) = %v, want error", tt.expr, c)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T %v is not *Error", err, err)
			}
			if tt.wantPos != "" && !strings.HasPrefix(err.Error(), tt.wantPos+": ") {
				t.Errorf("error %q does not start with position %s", err, tt.wantPos)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not mention %q", err, tt.wantMsg)
			}
		})
	}
}

func TestEval_OwnPaymentsRule(t *testing.T) {
	cond, err := Compile(ownPayments)
	if err != nil {
		t.Fatal(err)
	}
	admin := &principal.Principal{Subject: "admin", Roles: []string{"admin"}}
	noClaim := &principal.Principal{Subject: "agent", Roles: []string{"agent"}}
	tests := []struct {
		name    string
		p       *principal.Principal
		args    map[string]any
		want    bool
		wantErr bool
	}{
		{"customer reads own payments", customer("C-100"), map[string]any{"customer_id": "C-100"}, true, false},
		{"customer reads another customer's payments", customer("C-200"), map[string]any{"customer_id": "C-100"}, false, false},
		// CEL's || is commutative over errors: a branch that is true by
		// itself decides, whatever the other branch's error.
		{"admin without the claim is allowed by the role branch", admin, map[string]any{"customer_id": "C-100"}, true, false},
		{"caller without the claim is denied by the runtime error", noClaim, map[string]any{"customer_id": "C-100"}, false, true},
		{"number argument never equals the string claim", customer("C-100"), map[string]any{"customer_id": int64(100)}, false, false},
		{"missing argument denies", customer("C-100"), map[string]any{}, false, true},
		{"nil args deny", customer("C-100"), nil, false, true},
		{"no principal denies", nil, map[string]any{"customer_id": "C-100"}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cond.Eval(context.Background(), tt.p, paymentsTool, tt.args)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("Eval = %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestEval_AdminFirstShortCircuitsMissingClaim(t *testing.T) {
	cond, err := Compile(`"admin" in principal.roles || args.customer_id == principal.claims.customer_id`)
	if err != nil {
		t.Fatal(err)
	}
	admin := &principal.Principal{Subject: "admin", Roles: []string{"admin"}}
	got, err := cond.Eval(context.Background(), admin, paymentsTool, map[string]any{"customer_id": "C-100"})
	if !got || err != nil {
		t.Errorf("Eval = %v, %v; want true, nil", got, err)
	}
}

func TestEval_SeesEveryPrincipalAndToolField(t *testing.T) {
	cond, err := Compile(`principal.subject == "ops-bot" && "a" in principal.roles && "s" in principal.scopes &&
		principal.method == "jwt" && principal.issuer == "https://idp/" && principal.claims.level == 3.0 &&
		tool.name == "payments_lookup" && tool.permission == "payments.read" &&
		args.n == 7 && args.tags[0] == "x" && args.nested.k == true`)
	if err != nil {
		t.Fatal(err)
	}
	p := &principal.Principal{
		Subject: "ops-bot", Roles: []string{"a"}, Scopes: []string{"s"}, Method: principal.MethodJWT,
		Issuer: "https://idp/", Claims: map[string]any{"level": float64(3)},
	}
	args := map[string]any{"n": int64(7), "tags": []any{"x"}, "nested": map[string]any{"k": true}}
	got, err := cond.Eval(context.Background(), p, paymentsTool, args)
	if !got || err != nil {
		t.Errorf("Eval = %v, %v; want true, nil", got, err)
	}
}

func TestEval_CostLimitDenies(t *testing.T) {
	cond, err := Compile(`args.items.all(a, args.items.all(b, args.items.all(c, a + b + c != "")))`)
	if err != nil {
		t.Fatal(err)
	}
	items := make([]any, 100)
	for i := range items {
		items[i] = "x"
	}
	got, err := cond.Eval(context.Background(), customer("C-100"), paymentsTool, map[string]any{"items": items})
	if got || err == nil || !strings.Contains(err.Error(), "cost limit") {
		t.Errorf("Eval = %v, %v; want false and a cost limit error", got, err)
	}
}

func TestEval_CancelledContextDenies(t *testing.T) {
	cond, err := Compile(`args.items.all(a, a != "")`)
	if err != nil {
		t.Fatal(err)
	}
	items := make([]any, 1000)
	for i := range items {
		items[i] = "x"
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got, err := cond.Eval(ctx, customer("C-100"), paymentsTool, map[string]any{"items": items})
	if got || err == nil {
		t.Errorf("Eval = %v, %v; want false and an error", got, err)
	}
}

func BenchmarkEval(b *testing.B) {
	cond, err := Compile(ownPayments)
	if err != nil {
		b.Fatal(err)
	}
	p := customer("C-100")
	args := map[string]any{"customer_id": "C-100"}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		ok, err := cond.Eval(ctx, p, paymentsTool, args)
		if !ok || err != nil {
			b.Fatalf("Eval = %v, %v", ok, err)
		}
	}
}
