package app

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse/internal/config"
)

// The tutorial's short APP_BEARER_TOKEN works in dev mode only; whenever
// the variable is taken, a warning names it and never quotes it.
func TestBuildAuthn_AppBearerToken(t *testing.T) {
	tests := []struct {
		name    string
		token   string
		dev     bool
		wantErr bool
	}{
		{"tutorial token in dev mode", "super-secret-token", true, false},
		{"tutorial token outside dev mode", "super-secret-token", false, true},
		{"31 bytes outside dev mode", strings.Repeat("t", 31), false, true},
		{"32 bytes outside dev mode", strings.Repeat("t", 32), false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			env := map[string]string{"APP_BEARER_TOKEN": tc.token}
			w := wiring{getenv: func(k string) string { return env[k] }, log: slog.New(slog.NewJSONHandler(&logs, nil)), dev: tc.dev}
			_, closeFn, err := buildAuthn(context.Background(), &config.Config{}, w)
			closeFn()
			if (err != nil) != tc.wantErr {
				t.Fatalf("buildAuthn: %v; want error %v", err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), tc.token) {
				t.Errorf("the error quotes the token: %v", err)
			}
			if !tc.wantErr && !strings.Contains(logs.String(), `"variable":"APP_BEARER_TOKEN"`) {
				t.Errorf("no warning naming the variable: %s", logs.String())
			}
			if strings.Contains(logs.String(), tc.token) {
				t.Error("the log quotes the token")
			}
		})
	}
}
