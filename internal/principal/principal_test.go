package principal

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestClone_SharesNothing(t *testing.T) {
	sample := func() *Principal {
		return &Principal{
			Subject: "alice", Roles: []string{"agent"}, Scopes: []string{"read"},
			Claims: map[string]any{
				"customer_id": "C-100",
				"groups":      []any{"a", map[string]any{"x": "y"}},
				"realm":       map[string]any{"roles": []any{"r1"}},
				"tags":        []string{"t1"},
			},
			Method: MethodJWT, Issuer: "https://idp.example", CertIdentity: "spiffe://x",
			Actor: []Actor{{Subject: "bot", ClientID: "c1", Roles: []string{"agent"}}},
		}
	}
	orig, want := sample(), sample()
	cp := orig.Clone()
	if diff := cmp.Diff(want, cp); diff != "" {
		t.Fatalf("clone differs (-want +got):\n%s", diff)
	}
	cp.Subject = "mallory"
	cp.Roles[0] = "admin"
	cp.Scopes[0] = "write"
	cp.Claims["customer_id"] = "C-200"
	cp.Claims["groups"].([]any)[0] = "b"
	cp.Claims["groups"].([]any)[1].(map[string]any)["x"] = "z"
	cp.Claims["realm"].(map[string]any)["roles"].([]any)[0] = "admin"
	cp.Claims["tags"].([]string)[0] = "t2"
	cp.Claims["new"] = true
	cp.Actor[0].Roles[0] = "admin"
	cp.Actor[0].Subject = "root"
	if diff := cmp.Diff(want, orig); diff != "" {
		t.Errorf("changing the clone changed the original (-want +got):\n%s", diff)
	}
	if (*Principal)(nil).Clone() != nil {
		t.Error("Clone(nil) is not nil")
	}
}
