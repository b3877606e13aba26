package authn_test

import (
	"context"
	"testing"

	"github.com/gatehousehq/gatehouse/internal/authn"
)

// An API key's configured claims may be named anything, "act" included:
// they never make an actor, so a key cannot pass for a delegated call nor
// a delegated call for a key.
func TestAPIKeys_ActClaimMakesNoActor(t *testing.T) {
	v := authn.NewAPIKeys([]authn.APIKey{{Digest: digestOf(t, "gh_k"), Subject: "ops", Roles: []string{"agent"},
		Claims: map[string]string{"act": `{"sub":"support-bot"}`, "may_act": "support-bot"}}})
	p, err := v.VerifyToken(context.Background(), "gh_k")
	if err != nil {
		t.Fatal(err)
	}
	if p.Actor != nil || p.Delegated() {
		t.Errorf("API key principal has actors %+v", p.Actor)
	}
}
