package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/store/storetest"
)

// TestMain lets the test binary serve as the gateway child too.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		if err := gatewayMain(os.Getenv); err != nil {
			fmt.Fprintln(os.Stderr, "bench gateway:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestHarness_SmokeRunPrintsEveryScenarioWithoutErrors runs the harness for
// a few seconds at a low rate.
func TestHarness_SmokeRunPrintsEveryScenarioWithoutErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("starts five gatehouse processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	// Every gateway child copies its stderr here from its own goroutine.
	progress := &storetest.SyncBuffer{}
	// Every scenario but the Portkey peer, which the harness installs from
	// npm: tests stay offline.
	var scenarios []string
	for _, sc := range allScenarios {
		if sc != scPortkey {
			scenarios = append(scenarios, sc)
		}
	}
	args := []string{"-rounds=1", "-duration=300ms", "-warmup=100ms", "-soak=1s", "-rate=50", "-conns=4",
		"-pg=" + os.Getenv("GATEHOUSE_TEST_POSTGRES"), "-scenarios=" + strings.Join(scenarios, ",")}
	if err := run(ctx, args, os.Getenv, &out, progress); err != nil {
		t.Fatalf("run: %v\n%s", err, progress.String())
	}
	table := out.String()
	for _, sc := range scenarios {
		if !containsRow(table, sc) {
			t.Errorf("no row for %s in:\n%s", sc, table)
		}
	}
	if !strings.Contains(table, "PASS zero errors: 0") {
		t.Errorf("errors in:\n%s", table)
	}
	// Round three's figures: both CPU figures of every gateway, and the
	// allocations of BenchmarkWholeRun's G and GP judged.
	for _, want := range []string{"gateway CPU per run, at the open-loop rate (steady) and in closed loop (saturation):",
		"allocations per request in BenchmarkWholeRun/G/audit=sqlite:", "allocations per request in BenchmarkWholeRun/GP/audit=sqlite:",
		"own work: gateway CPU per pass-through request, nothing durable: GP-mem", "durable cost: pass-through over its file-log floor: GP adds"} {
		if !strings.Contains(table, want) {
			t.Errorf("no %q in:\n%s", want, table)
		}
	}
	for _, sc := range scenarios {
		if sc != scD && sc != scD1 && sc != scDStream && !openOnly[sc] && !strings.Contains(table, "\n  "+sc+" ") {
			t.Errorf("no CPU figures for %s in:\n%s", sc, table)
		}
	}
}

func containsRow(table, scenario string) bool {
	for _, line := range strings.Split(table, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == scenario {
			return true
		}
	}
	return false
}
