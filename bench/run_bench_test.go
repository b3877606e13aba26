package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/authn"
)

// BenchmarkWholeRun is one request through the whole gateway in-process,
// as the harness's scenarios make it: HTTP, authentication, the chat
// service, the agent (two model calls through openai-go and the builtin
// tool behind its CEL condition), the audit log and the session write.
// allocs/op and B/op count the client and the fake upstream too; direct
// (D's two upstream calls alone) is their share, so G's allocations in
// the gateway are G minus direct. G-stream is the harness's G-stream (the
// agent model streamed on /v1/chat/completions) next to direct-stream;
// both also report first-byte-µs, the mean time to the first content.
// dlp=off is the same with data_protection.disabled: the difference is
// what detection costs a run.
//
//	go test -run '^$' -bench WholeRun -benchmem ./bench/
func BenchmarkWholeRun(b *testing.B) {
	up, stop, err := startUpstream(0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(stop)
	key, keyHex, err := authn.NewKey()
	if err != nil {
		b.Fatal(err)
	}
	client := newClient(4)
	b.Run("direct", func(b *testing.B) { loop(b, direct(client, up)) })
	b.Run("direct-stream", func(b *testing.B) {
		loopFirstByte(b, streamRun(client, up+"/chat/completions", streamBody("bench-model"), "sk-bench"))
	})
	for _, sc := range []struct {
		name  string
		sink  audit.Sink
		noDLP bool
		run   func(base string) runFunc
	}{
		{"G/audit=sqlite", nil, false, func(base string) runFunc { return viaGateway(client, base, []string{key}) }},
		{"G/audit=sqlite/dlp=off", nil, true, func(base string) runFunc { return viaGateway(client, base, []string{key}) }},
		{"G/audit=noop", noopSink{}, false, func(base string) runFunc { return viaGateway(client, base, []string{key}) }},
		{"GP/audit=sqlite", nil, false, func(base string) runFunc { return viaPassthrough(client, base, key) }},
		{"GP/audit=sqlite/dlp=off", nil, true, func(base string) runFunc { return viaPassthrough(client, base, key) }},
		{"GR/audit=sqlite", nil, false, func(base string) runFunc { return viaResponses(client, base, key) }},
		{"G-stream/audit=sqlite", nil, false, func(base string) runFunc {
			return streamRun(client, base+"/v1/chat/completions", streamBody("support_agent"), key)
		}},
	} {
		b.Run(sc.name, func(b *testing.B) {
			base := startInProcess(b, gatewaySpec{dir: b.TempDir(), upstream: up, apiKeyHex: keyHex, noDLP: sc.noDLP}, sc.sink)
			if strings.HasSuffix(strings.Split(sc.name, "/")[0], "-stream") {
				loopFirstByte(b, sc.run(base))
				return
			}
			loop(b, sc.run(base))
		})
	}
}

// loopFirstByte is loop for a streamed run, also reporting the mean time
// from sending the request to its first content byte (first-byte-µs).
func loopFirstByte(b *testing.B, run runFunc) {
	ctx := context.Background()
	if _, err := run(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var first time.Duration
	n := 0
	for b.Loop() {
		start := time.Now()
		mark, err := run(ctx)
		if err != nil {
			b.Fatal(err)
		}
		first += mark.Sub(start)
		n++
	}
	b.ReportMetric(float64(first.Microseconds())/float64(n), "first-byte-µs")
}

// startInProcess runs gatehouse with the spec's config in this process
// until the benchmark ends and returns its base URL.
func startInProcess(b *testing.B, s gatewaySpec, sink audit.Sink) string {
	base, stop, err := inProcess(s, sink)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(stop)
	return base
}
