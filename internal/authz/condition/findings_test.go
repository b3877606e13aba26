package condition_test

import (
	"context"
	"testing"

	"github.com/gatehousehq/gatehouse/internal/authz"
	"github.com/gatehousehq/gatehouse/internal/authz/condition"
	"github.com/gatehousehq/gatehouse/internal/principal"
)

func TestEval_SeesTheFindingsOfTheCall(t *testing.T) {
	c, err := condition.Compile(`!findings.exists(f, f.type == "card")`)
	if err != nil {
		t.Fatal(err)
	}
	p := &principal.Principal{Subject: "alice"}
	tests := []struct {
		name string
		fs   []authz.Finding
		want bool
	}{
		{"none", nil, true},
		{"an email", []authz.Finding{{Type: "email", Path: "to"}}, true},
		{"a card token in the body", []authz.Finding{{Type: "email", Path: "to"}, {Type: "card", Path: "body"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Eval(authz.WithFindings(context.Background(), tt.fs), p, condition.ToolInfo{Name: "send_email"}, map[string]any{})
			if err != nil || got != tt.want {
				t.Errorf("Eval = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	path, err := condition.Compile(`findings.all(f, f.path != "body")`)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := path.Eval(authz.WithFindings(context.Background(), []authz.Finding{{Type: "iban", Path: "body"}}), p, condition.ToolInfo{}, nil); err != nil || ok {
		t.Errorf("path condition = %v, %v", ok, err)
	}
}
