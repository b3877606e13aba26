package builtin

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"

	"github.com/gatehousehq/gatehouse/internal/config"
	"github.com/gatehousehq/gatehouse/internal/principal"
	"github.com/gatehousehq/gatehouse/internal/tools"
)

// Tools returns the builtin tools over db, by name.
func Tools(db *DB) map[string]tools.Tool {
	m := map[string]tools.Tool{}
	for _, t := range []tools.Tool{claimsStatus{db}, paymentsLookup{db}, policyUpdate{db}, cardStatus{db}} {
		m[t.Spec().Name] = t
	}
	return m
}

// errNotFound is deliberately the same for a missing row and a row of
// another customer, so a caller learns nothing about others' data.
var errNotFound = errors.New("not found")

// customerScope returns the customer a caller is confined to, if any: a
// principal carrying a customer_id claim sees only that customer's rows,
// whatever the policy allowed (defence in depth). A claim that is present
// but not a non-empty string confines the caller to nothing: read as absent,
// it would show every customer's rows.
func customerScope(ctx context.Context) (string, error) {
	p := principal.From(ctx)
	if p == nil {
		return "", errors.New("no authenticated caller")
	}
	v, present := p.Claims["customer_id"]
	if !present {
		return "", nil
	}
	if id, ok := v.(string); ok && id != "" {
		return id, nil
	}
	return "", errors.New("the caller's customer_id claim is not a customer id")
}

// premiumText is a plain decimal amount: digits, at most two decimals.
var premiumText = regexp.MustCompile(`^[0-9]{1,10}(\.[0-9]{1,2})?$`)

func str(args tools.Args, k string) string {
	s, _ := args[k].(string)
	return s
}

type claimsStatus struct{ db *DB }

func (claimsStatus) Spec() tools.Spec {
	return tools.Spec{
		Name:        config.BuiltinClaimsStatus,
		Description: "Look up the status and amount of an insurance claim by its id (e.g. CLM-1001).",
		Parameters:  json.RawMessage(`{"type":"object","properties":{"claim_id":{"type":"string","description":"The claim id, e.g. CLM-1001","pattern":"^CLM-[0-9]{1,12}$"}},"required":["claim_id"]}`),
	}
}

func (t claimsStatus) Call(ctx context.Context, args tools.Args) (any, error) {
	scope, err := customerScope(ctx)
	if err != nil {
		return nil, err
	}
	var out struct {
		ClaimID    string  `json:"claim_id"`
		CustomerID string  `json:"customer_id"`
		PolicyID   string  `json:"policy_id"`
		Status     string  `json:"status"`
		Amount     float64 `json:"amount"`
	}
	err = t.db.claimStatus.QueryRowContext(ctx, str(args, "claim_id"), scope, scope).Scan(&out.ClaimID, &out.CustomerID, &out.PolicyID, &out.Status, &out.Amount)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("claim %s: %w", str(args, "claim_id"), errNotFound)
	}
	if err != nil {
		return nil, errors.New("the claims database is unavailable")
	}
	return out, nil
}

type paymentsLookup struct{ db *DB }

func (paymentsLookup) Spec() tools.Spec {
	return tools.Spec{
		Name:        config.BuiltinPaymentsLookup,
		Description: "List a customer's payments by customer id (e.g. C-100).",
		Parameters:  json.RawMessage(`{"type":"object","properties":{"customer_id":{"type":"string","description":"The customer id, e.g. C-100","pattern":"^C-[0-9]{1,12}$"}},"required":["customer_id"]}`),
	}
}

type payment struct {
	PaymentID string  `json:"payment_id"`
	Date      string  `json:"date"`
	Amount    float64 `json:"amount"`
	Method    string  `json:"method"`
}

func (t paymentsLookup) Call(ctx context.Context, args tools.Args) (any, error) {
	scope, err := customerScope(ctx)
	if err != nil {
		return nil, err
	}
	cust := str(args, "customer_id")
	if scope != "" && scope != cust {
		return nil, fmt.Errorf("customer %s: %w", cust, errNotFound)
	}
	rows, err := t.db.payments.QueryContext(ctx, cust)
	if err != nil {
		return nil, errors.New("the payments database is unavailable")
	}
	defer rows.Close()
	out := struct {
		CustomerID string    `json:"customer_id"`
		Payments   []payment `json:"payments"`
	}{CustomerID: cust, Payments: []payment{}}
	for rows.Next() {
		var p payment
		if err := rows.Scan(&p.PaymentID, &p.Date, &p.Amount, &p.Method); err != nil {
			return nil, errors.New("the payments database is unavailable")
		}
		out.Payments = append(out.Payments, p)
	}
	if rows.Err() != nil {
		return nil, errors.New("the payments database is unavailable")
	}
	if len(out.Payments) == 0 {
		return nil, fmt.Errorf("customer %s: %w", cust, errNotFound)
	}
	return out, nil
}

type policyUpdate struct{ db *DB }

func (policyUpdate) Spec() tools.Spec {
	return tools.Spec{
		Name:        config.BuiltinPolicyUpdate,
		Description: "Change a policy's status or premium.",
		Parameters:  json.RawMessage(`{"type":"object","properties":{"policy_id":{"type":"string","description":"The policy id, e.g. POL-500","pattern":"^POL-[0-9]{1,12}$"},"field":{"type":"string","enum":["status","premium"]},"value":{"type":"string","description":"The new value: a status word, or a premium amount","maxLength":64}},"required":["policy_id","field","value"]}`),
	}
}

var validStatus = map[string]bool{"active": true, "suspended": true, "cancelled": true, "lapsed": true}

func (t policyUpdate) Call(ctx context.Context, args tools.Args) (any, error) {
	scope, err := customerScope(ctx)
	if err != nil {
		return nil, err
	}
	id, field, value := str(args, "policy_id"), str(args, "field"), str(args, "value")
	var res sql.Result
	switch field {
	case "status":
		if !validStatus[value] {
			return nil, fmt.Errorf("status %q is not one of active, suspended, cancelled, lapsed", value)
		}
		res, err = t.db.setStatus.ExecContext(ctx, value, id, scope, scope)
	case "premium":
		// Plain decimal only: ParseFloat also takes 0x1p10, 1e9, +.5 and Inf,
		// so a condition reading the text would judge another amount than
		// the one stored.
		f, perr := strconv.ParseFloat(value, 64)
		// Written so NaN, which fails every comparison, is refused too.
		if !premiumText.MatchString(value) || perr != nil || !(f > 0 && f <= 1e9) {
			return nil, fmt.Errorf("premium %q is not a positive amount", value)
		}
		res, err = t.db.setPremium.ExecContext(ctx, f, id, scope, scope)
	default:
		return nil, fmt.Errorf("field %q cannot be changed: only status or premium", field)
	}
	if err != nil {
		return nil, errors.New("the policies database is unavailable")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, fmt.Errorf("policy %s: %w", id, errNotFound)
	}
	return t.db.GetPolicy(ctx, id)
}
