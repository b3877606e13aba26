package postgres

import (
	"testing"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/store/storetest"
)

func BenchmarkLogRecord(b *testing.B) {
	storetest.BenchmarkLogRecord(b, func(b *testing.B) audit.Store { return openAudit(b, storetest.PostgresDSN(b)) })
}
