package condition

import (
	"context"
	"testing"

	"github.com/gatehousehq/gatehouse/internal/principal"
)

func TestEval_SeesTheActorChain(t *testing.T) {
	delegated := &principal.Principal{Subject: "alice", Method: principal.MethodJWT,
		Actor: []principal.Actor{{Subject: "support-bot"}, {ClientID: "platform"}}}
	// An API key whose configured claims say "act": claims, never an actor.
	apiKey := &principal.Principal{Subject: "ops", Method: principal.MethodAPIKey,
		Claims: map[string]any{"act": map[string]any{"sub": "support-bot"}}}
	tests := []struct {
		expr string
		p    *principal.Principal
		want bool
	}{
		{`size(principal.actor) == 0`, apiKey, true},
		{`principal.actor.exists(a, a.subject == "support-bot")`, apiKey, false},
		{`principal.actor[0].subject == "support-bot"`, delegated, true},
		{`principal.actor[1].client_id == "platform"`, delegated, true},
		{`size(principal.actor) == 0 || principal.actor[0].subject == "support-bot"`, delegated, true},
		{`principal.actor.all(a, a.subject != "support-bot")`, delegated, false},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			c, err := Compile(tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Eval(context.Background(), tc.p, paymentsTool, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("= %v, want %v", got, tc.want)
			}
		})
	}
}
