package logbound_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/gatehousehq/gatehouse/internal/logbound"
)

// Every value a line carries is cut, however it is passed: message,
// strings, errors, values printed with %v, groups, logger attributes.
func TestHandler_CutsEveryValue(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(logbound.New(slog.NewJSONHandler(&buf, nil)))
	huge := strings.Repeat("p", 1<<20)
	many := make([]any, 0, 200)
	for range 100 {
		many = append(many, "k", huge)
	}
	log.With("with", huge).WithGroup("g").Info(huge,
		append([]any{"s", huge, "err", errors.New(huge), "any", []byte(huge), "stack", huge,
			slog.Group("grp", "inner", huge)}, many...)...)
	line := buf.String()
	if max := 40*(logbound.MaxValueBytes+64) + logbound.MaxStackBytes; len(line) > max {
		t.Fatalf("a %d-byte log line; want at most %d", len(line), max)
	}
	if !strings.Contains(line, "(cut, 1048576 bytes)") {
		t.Errorf("no cut marker in %.200s", line)
	}
}
