package builtin_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gatehousehq/gatehouse/internal/config"
	"github.com/gatehousehq/gatehouse/internal/principal"
	"github.com/gatehousehq/gatehouse/internal/tools"
	"github.com/gatehousehq/gatehouse/internal/tools/builtin"
)

func openDemo(t *testing.T) (*builtin.DB, string) {
	t.Helper()
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "demo", "demo.db")
	db, err := builtin.OpenDemo(context.Background(), dsn)
	if err != nil {
		t.Fatalf("OpenDemo: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db, dsn
}

// staff has no customer_id claim and sees every customer; customer100 is
// confined to C-100's rows.
var (
	staff       = &principal.Principal{Subject: "agent", Roles: []string{"agent"}, Claims: map[string]any{}}
	customer100 = &principal.Principal{Subject: "ada", Roles: []string{"customer"}, Claims: map[string]any{"customer_id": "C-100"}}
)

func as(p *principal.Principal) context.Context {
	return principal.With(context.Background(), p)
}

// call runs the named tool and returns its result as the model would see it.
func call(t *testing.T, db *builtin.DB, ctx context.Context, tool string, args tools.Args) (any, error) {
	t.Helper()
	tl, ok := builtin.Tools(db)[tool]
	if !ok {
		t.Fatalf("no tool %s", tool)
	}
	out, err := tl.Call(ctx, args)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatalf("encode %s result: %v", tool, err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v, nil
}

func policy(t *testing.T, db *builtin.DB, id string) builtin.Policy {
	t.Helper()
	p, err := db.GetPolicy(context.Background(), id)
	if err != nil {
		t.Fatalf("GetPolicy(%s): %v", id, err)
	}
	return *p
}

// TestTools_AreTheOnesConfigKnows: config validation accepts type: builtin
// for exactly the tools this package implements.
func TestTools_AreTheOnesConfigKnows(t *testing.T) {
	db, _ := openDemo(t)
	var names []string
	for name := range builtin.Tools(db) {
		names = append(names, name)
	}
	if diff := cmp.Diff(config.BuiltinTools(), names, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("builtin tools (-config +implemented):\n%s", diff)
	}
}

func TestTools_SpecsNameThemselvesAndHaveObjectSchemas(t *testing.T) {
	db, _ := openDemo(t)
	for name, tl := range builtin.Tools(db) {
		s := tl.Spec()
		if s.Name != name || s.Description == "" {
			t.Errorf("tool %s: spec name %q description %q", name, s.Name, s.Description)
		}
		var schema struct {
			Type     string   `json:"type"`
			Required []string `json:"required"`
		}
		if err := json.Unmarshal(s.Parameters, &schema); err != nil || schema.Type != "object" || len(schema.Required) == 0 {
			t.Errorf("tool %s: parameters %s (err %v)", name, s.Parameters, err)
		}
	}
}

func TestClaimsStatus(t *testing.T) {
	db, _ := openDemo(t)
	tests := []struct {
		name    string
		p       *principal.Principal
		claim   string
		want    any
		wantErr string
	}{
		{"found", staff, "CLM-1001", map[string]any{"claim_id": "CLM-1001", "customer_id": "C-100", "policy_id": "POL-500", "status": "in_review", "amount": 2500.0}, ""},
		{"other customer's claim for staff", staff, "CLM-1002", map[string]any{"claim_id": "CLM-1002", "customer_id": "C-200", "policy_id": "POL-501", "status": "approved", "amount": 740.0}, ""},
		{"not found", staff, "CLM-9999", nil, "claim CLM-9999: not found"},
		{"own claim for a customer", customer100, "CLM-1001", map[string]any{"claim_id": "CLM-1001", "customer_id": "C-100", "policy_id": "POL-500", "status": "in_review", "amount": 2500.0}, ""},
		// Defence in depth: another customer's claim reads exactly like a missing one.
		{"another customer's claim", customer100, "CLM-1002", nil, "claim CLM-1002: not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := call(t, db, as(tc.p), "claims_status", tools.Args{"claim_id": tc.claim})
			checkResult(t, got, err, tc.want, tc.wantErr)
		})
	}
}

func TestPaymentsLookup(t *testing.T) {
	db, _ := openDemo(t)
	c200 := map[string]any{"customer_id": "C-200", "payments": []any{
		map[string]any{"payment_id": "PAY-9003", "date": "2026-09-15", "amount": 81.71, "method": "card"},
		map[string]any{"payment_id": "PAY-9004", "date": "2026-10-15", "amount": 81.71, "method": "card"},
	}}
	c100 := map[string]any{"customer_id": "C-100", "payments": []any{
		map[string]any{"payment_id": "PAY-9001", "date": "2026-09-01", "amount": 100.0, "method": "direct_debit"},
		map[string]any{"payment_id": "PAY-9002", "date": "2026-10-01", "amount": 100.0, "method": "direct_debit"},
	}}
	tests := []struct {
		name     string
		p        *principal.Principal
		customer string
		want     any
		wantErr  string
	}{
		{"staff reads any customer, by date", staff, "C-200", c200, ""},
		{"unknown customer", staff, "C-999", nil, "customer C-999: not found"},
		{"customer reads own", customer100, "C-100", c100, ""},
		{"customer cannot read another's", customer100, "C-200", nil, "customer C-200: not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := call(t, db, as(tc.p), "payments_lookup", tools.Args{"customer_id": tc.customer})
			checkResult(t, got, err, tc.want, tc.wantErr)
		})
	}
}

func TestPolicyUpdate_ChangesOnlyStatusOrPremium(t *testing.T) {
	tests := []struct {
		name    string
		p       *principal.Principal
		args    tools.Args
		want    builtin.Policy // POL-500 afterwards (or the named policy)
		wantErr string
	}{
		{"status", staff, tools.Args{"policy_id": "POL-500", "field": "status", "value": "suspended"},
			builtin.Policy{ID: "POL-500", CustomerID: "C-100", Status: "suspended", Premium: 1200}, ""},
		{"premium", staff, tools.Args{"policy_id": "POL-500", "field": "premium", "value": "1300.25"},
			builtin.Policy{ID: "POL-500", CustomerID: "C-100", Status: "active", Premium: 1300.25}, ""},
		{"customer updates own", customer100, tools.Args{"policy_id": "POL-500", "field": "status", "value": "lapsed"},
			builtin.Policy{ID: "POL-500", CustomerID: "C-100", Status: "lapsed", Premium: 1200}, ""},
		{"customer cannot update another's", customer100, tools.Args{"policy_id": "POL-501", "field": "status", "value": "cancelled"},
			builtin.Policy{ID: "POL-501", CustomerID: "C-200", Status: "active", Premium: 980.5}, "policy POL-501: not found"},
		{"unknown policy", staff, tools.Args{"policy_id": "POL-999", "field": "status", "value": "active"},
			builtin.Policy{ID: "POL-500", CustomerID: "C-100", Status: "active", Premium: 1200}, "policy POL-999: not found"},
		{"unknown status word", staff, tools.Args{"policy_id": "POL-500", "field": "status", "value": "deleted"},
			builtin.Policy{ID: "POL-500", CustomerID: "C-100", Status: "active", Premium: 1200}, "is not one of"},
		{"status is case-sensitive", staff, tools.Args{"policy_id": "POL-500", "field": "status", "value": "Active"},
			builtin.Policy{ID: "POL-500", CustomerID: "C-100", Status: "active", Premium: 1200}, "is not one of"},
		{"another field", staff, tools.Args{"policy_id": "POL-500", "field": "customer_id", "value": "C-200"},
			builtin.Policy{ID: "POL-500", CustomerID: "C-100", Status: "active", Premium: 1200}, "cannot be changed"},
		{"missing field", staff, tools.Args{"policy_id": "POL-500", "value": "active"},
			builtin.Policy{ID: "POL-500", CustomerID: "C-100", Status: "active", Premium: 1200}, "cannot be changed"},
	}
	for _, bad := range []string{"0", "-5", "abc", "", "1e10", "NaN", "nan", "Inf", "+Inf", "0x10p-2x",
		"0x1p10", "1e3", "+.5", "+100", "100.123", " 100"} { // plain decimal only: a condition reading the text must judge the stored amount
		tests = append(tests, struct {
			name    string
			p       *principal.Principal
			args    tools.Args
			want    builtin.Policy
			wantErr string
		}{"premium " + bad, staff, tools.Args{"policy_id": "POL-500", "field": "premium", "value": bad},
			builtin.Policy{ID: "POL-500", CustomerID: "C-100", Status: "active", Premium: 1200}, "is not a positive amount"})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db, _ := openDemo(t)
			out, err := call(t, db, as(tc.p), "policy_update", tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v; want one containing %q", err, tc.wantErr)
				}
			} else {
				if err != nil {
					t.Fatalf("policy_update: %v", err)
				}
				want := map[string]any{"policy_id": tc.want.ID, "customer_id": tc.want.CustomerID, "status": tc.want.Status, "premium": tc.want.Premium}
				if diff := cmp.Diff(want, out); diff != "" {
					t.Errorf("result (-want +got):\n%s", diff)
				}
			}
			if diff := cmp.Diff(tc.want, policy(t, db, tc.want.ID)); diff != "" {
				t.Errorf("%s afterwards (-want +got):\n%s", tc.want.ID, diff)
			}
			// The other policy is never touched.
			other := map[string]builtin.Policy{
				"POL-500": {ID: "POL-501", CustomerID: "C-200", Status: "active", Premium: 980.5},
				"POL-501": {ID: "POL-500", CustomerID: "C-100", Status: "active", Premium: 1200},
			}[tc.want.ID]
			if diff := cmp.Diff(other, policy(t, db, other.ID)); diff != "" {
				t.Errorf("%s changed (-want +got):\n%s", other.ID, diff)
			}
		})
	}
}

func TestTools_RefuseWithoutAPrincipal(t *testing.T) {
	db, _ := openDemo(t)
	for name, args := range map[string]tools.Args{
		"claims_status":   {"claim_id": "CLM-1001"},
		"payments_lookup": {"customer_id": "C-100"},
		"policy_update":   {"policy_id": "POL-500", "field": "status", "value": "cancelled"},
	} {
		t.Run(name, func(t *testing.T) {
			if out, err := call(t, db, context.Background(), name, args); err == nil {
				t.Errorf("%s without a principal returned %v", name, out)
			}
		})
	}
	if got := policy(t, db, "POL-500").Status; got != "active" {
		t.Errorf("POL-500 status = %q after an unauthenticated update", got)
	}
}

func TestOpenDemo_ReopeningKeepsRowsAndChanges(t *testing.T) {
	db, dsn := openDemo(t)
	if _, err := call(t, db, as(staff), "policy_update", tools.Args{"policy_id": "POL-500", "field": "status", "value": "cancelled"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := builtin.OpenDemo(context.Background(), dsn)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	t.Cleanup(func() { again.Close() })
	out, err := call(t, again, as(staff), "payments_lookup", tools.Args{"customer_id": "C-100"})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(out.(map[string]any)["payments"].([]any)); n != 2 {
		t.Errorf("C-100 has %d payments after reopening; want 2 (seeded once)", n)
	}
	if got := policy(t, again, "POL-500").Status; got != "cancelled" {
		t.Errorf("POL-500 status = %q after reopening; the change was lost or reseeded", got)
	}
}

func TestOpenDemo_RejectsNonSQLiteDSN(t *testing.T) {
	for _, dsn := range []string{"", "sqlite://", "postgres://localhost/demo", filepath.Join(t.TempDir(), "demo.db")} {
		if db, err := builtin.OpenDemo(context.Background(), dsn); err == nil {
			db.Close()
			t.Errorf("OpenDemo(%q) succeeded", dsn)
		}
	}
}

func checkResult(t *testing.T, got any, err error, want any, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil || err.Error() != wantErr {
			t.Fatalf("err = %v, result %v; want error %q", err, got, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
}

// A customer_id claim that is present but not a non-empty string (an IdP
// sending a number or a list) must not lift the caller's confinement: the
// builtin tools refuse to run rather than show every customer's rows.
func TestTools_MalformedCustomerClaimConfinesToNothing(t *testing.T) {
	db, _ := openDemo(t)
	for name, claim := range map[string]any{
		"number": float64(100), "list": []any{"C-100"}, "empty": "", "null": nil, "object": map[string]any{"id": "C-100"},
	} {
		t.Run(name, func(t *testing.T) {
			p := &principal.Principal{Subject: "eve", Roles: []string{"customer"}, Claims: map[string]any{"customer_id": claim}}
			if got, err := call(t, db, as(p), "claims_status", tools.Args{"claim_id": "CLM-1002"}); err == nil {
				t.Errorf("claims_status = %v; want an error", got)
			}
			if got, err := call(t, db, as(p), "payments_lookup", tools.Args{"customer_id": "C-200"}); err == nil {
				t.Errorf("payments_lookup = %v; want an error", got)
			}
			if got, err := call(t, db, as(p), "policy_update", tools.Args{"policy_id": "POL-501", "field": "status", "value": "lapsed"}); err == nil {
				t.Errorf("policy_update = %v; want an error", got)
			}
			if pol := policy(t, db, "POL-501"); pol.Status != "active" {
				t.Errorf("POL-501 status = %q; want it unchanged", pol.Status)
			}
		})
	}
}
