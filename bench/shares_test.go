package main

import (
	"os"
	"path/filepath"
	"testing"

	pprofile "github.com/google/pprof/profile"
)

// TestCPUShares_ClaimEachSampleOnce writes a CPU profile with known stacks
// and checks the shares the harness prints for it.
func TestCPUShares_ClaimEachSampleOnce(t *testing.T) {
	p := &pprofile.Profile{
		SampleType: []*pprofile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType: &pprofile.ValueType{Type: "cpu", Unit: "nanoseconds"}, Period: 10_000_000,
	}
	var id uint64
	stack := func(funcs ...string) []*pprofile.Location { // leaf first
		var locs []*pprofile.Location
		for _, name := range funcs {
			id++
			fn := &pprofile.Function{ID: id, Name: name}
			loc := &pprofile.Location{ID: id, Line: []pprofile.Line{{Function: fn}}}
			p.Function = append(p.Function, fn)
			p.Location = append(p.Location, loc)
			locs = append(locs, loc)
		}
		return locs
	}
	add := func(ms int64, funcs ...string) {
		p.Sample = append(p.Sample, &pprofile.Sample{Location: stack(funcs...), Value: []int64{ms / 10, ms * 1_000_000}})
	}
	// JSON decoding of the model's answer counts as JSON, the model
	// client's socket write as the model client.
	add(40, "github.com/go-json-experiment/json.Unmarshal", "github.com/gatehousehq/gatehouse/internal/llm/openai.(*Client).Complete", "net/http.(*conn).serve")
	add(30, "syscall.write", "net.(*conn).Write", "net/http.(*persistConn).writeLoop")
	add(20, "runtime.futex", "runtime.findRunnable", "runtime.schedule", "runtime.mcall")
	add(10, "github.com/gatehousehq/gatehouse/internal/httpapi.(*Server).guard", "net/http.(*conn).serve")
	path := filepath.Join(t.TempDir(), "cpu.pprof")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Write(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	got, err := cpuShares(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []share{
		{components[0].part, 0.4},
		{components[7].part, 0.3},
		{"scheduler (finding work, parking and waking threads, timers)", 0.2},
		{"gatehouse's request handling (other)", 0.1},
	}
	if len(got) != len(want) {
		t.Fatalf("shares = %v, want %v", got, want)
	}
	for i := range want {
		if got[i].part != want[i].part || got[i].frac < want[i].frac-1e-9 || got[i].frac > want[i].frac+1e-9 {
			t.Errorf("share %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}
