package httptool

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse/internal/tools"
)

type credFunc func(ctx context.Context) (string, error)

func (f credFunc) Bearer(ctx context.Context) (string, error) { return f(ctx) }

func TestCall_CredentialIsTheBearer(t *testing.T) {
	b := newBackend(t, nil)
	tool := newTool(t, Config{URL: b.URL + "/customers/{customer_id}", Headers: map[string]string{},
		Credential: credFunc(func(context.Context) (string, error) { return "call-token", nil })})
	if _, err := tool.Call(callerCtx(), tools.Args{"customer_id": "C-100", "limit": int64(1)}); err != nil {
		t.Fatal(err)
	}
	if got := b.seen()[0].Auth; got != "Bearer call-token" {
		t.Errorf("Authorization = %q", got)
	}
}

// Without its credential a call is not sent at all (fail closed).
func TestCall_CredentialFailureSendsNothing(t *testing.T) {
	b := newBackend(t, nil)
	cause := errors.New("the identity provider refused")
	tool := newTool(t, Config{URL: b.URL + "/customers/{customer_id}", Headers: map[string]string{},
		Credential: credFunc(func(context.Context) (string, error) { return "", cause })})
	_, err := tool.Call(callerCtx(), tools.Args{"customer_id": "C-100", "limit": int64(1)})
	if !errors.Is(err, cause) || !strings.Contains(err.Error(), "not sent") {
		t.Errorf("err = %v", err)
	}
	if n := len(b.seen()); n != 0 {
		t.Errorf("backend got %d requests", n)
	}
}

func TestNew_CredentialOwnsAuthorization(t *testing.T) {
	_, err := New(Config{Name: "t", URL: "https://x.test/", Headers: map[string]string{"authorization": "Bearer static"},
		Credential: credFunc(func(context.Context) (string, error) { return "", nil })})
	if err == nil || !strings.Contains(err.Error(), "call_token") {
		t.Errorf("err = %v", err)
	}
}
