package builtin

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/gatehousehq/gatehouse/internal/config"
	"github.com/gatehousehq/gatehouse/internal/tools"
)

// cardSeed are the demo cards (the payment networks' test numbers).
const cardSeed = `
INSERT OR IGNORE INTO cards VALUES
  ('4111111111111111','C-100','visa','active'),
  ('5555555555554444','C-200','mastercard','blocked');
`

// cardStatus looks a card up by its full number: the tool that needs the
// value data protection keeps from the model (the model passes a token,
// the tool receives the number).
type cardStatus struct{ db *DB }

func (cardStatus) Spec() tools.Spec {
	return tools.Spec{
		Name:        config.BuiltinCardStatus,
		Description: "Look up a payment card's status by its card number (pass the number, or the token standing for it, exactly as given).",
		Parameters:  json.RawMessage(`{"type":"object","properties":{"card_number":{"type":"string","description":"The card number as the customer gave it","maxLength":64}},"required":["card_number"]}`),
	}
}

func (t cardStatus) Call(ctx context.Context, args tools.Args) (any, error) {
	scope, err := customerScope(ctx)
	if err != nil {
		return nil, err
	}
	number := strings.Map(func(r rune) rune {
		switch {
		case r >= '0' && r <= '9':
			return r
		case r == ' ' || r == '-':
			return -1
		}
		return 'x'
	}, str(args, "card_number"))
	if strings.Contains(number, "x") || len(number) < 13 || len(number) > 19 {
		return nil, errors.New("card_number is not a card number")
	}
	var out struct {
		Card       string `json:"card"`
		CustomerID string `json:"customer_id"`
		Brand      string `json:"brand"`
		Status     string `json:"status"`
	}
	err = t.db.cardStatus.QueryRowContext(ctx, number, scope, scope).Scan(&out.CustomerID, &out.Brand, &out.Status)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("card ending %s: %w", number[len(number)-4:], errNotFound)
	}
	if err != nil {
		return nil, errors.New("the cards database is unavailable")
	}
	out.Card = "ending " + number[len(number)-4:]
	return out, nil
}
