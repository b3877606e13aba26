package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/store/storetest"
)

// On a real disk: synchronous=FULL fsyncs every commit.
func BenchmarkLogRecord(b *testing.B) {
	storetest.BenchmarkLogRecord(b, func(b *testing.B) audit.Store {
		return openAudit(b, filepath.Join(b.TempDir(), "audit.db"))
	})
}
