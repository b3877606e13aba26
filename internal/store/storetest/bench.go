package storetest

import (
	"context"
	"runtime"
	"testing"

	"github.com/gatehousehq/gatehouse/internal/audit"
)

// BenchmarkLogRecord measures events/s through audit.Log with one caller and
// with many concurrent callers (as concurrent requests), each Record waiting
// for its commit; events/txn shows how many share one fsync. open must
// return a fresh store.
func BenchmarkLogRecord(b *testing.B, open func(b *testing.B) audit.Store) {
	b.Run("callers=1", func(b *testing.B) { benchmarkLogRecord(b, open(b), 0) })
	b.Run("callers=64", func(b *testing.B) { benchmarkLogRecord(b, open(b), 64) })
}

func benchmarkLogRecord(b *testing.B, s audit.Store, callers int) {
	l, err := audit.New(audit.Config{Store: s, ChainID: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	e := audit.Event{Type: audit.TypeToolDecided, Subject: "bench", Decision: audit.Allow, Resource: "claims_status",
		Roles: []string{"agent"}, Content: map[string]string{"arguments": `{"claim_id":"CLM-1001"}`}}
	b.ResetTimer()
	if callers == 0 {
		for range b.N {
			if err := l.Record(ctx, e); err != nil {
				b.Fatal(err)
			}
		}
	} else {
		b.SetParallelism(max(1, callers/runtime.GOMAXPROCS(0)))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := l.Record(ctx, e); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	b.StopTimer()
	st := l.Stats()
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	if st.Batches > 0 {
		b.ReportMetric(float64(st.Events)/float64(st.Batches), "events/txn")
	}
}
