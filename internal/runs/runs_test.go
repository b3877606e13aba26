package runs_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/runs"
)

func TestAdmit_BoundsRunsInFlightAcrossDoorsSharingACounter(t *testing.T) {
	f := &runs.InFlight{}
	a, b := &runs.Door{InFlight: f, Max: 2}, &runs.Door{InFlight: f, Max: 2} // two configs of one server
	r1, err := a.Admit()
	if err != nil {
		t.Fatal(err)
	}
	r2, err := b.Admit()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Admit(); !errors.Is(err, runs.ErrOverloaded) {
		t.Fatalf("a third run: %v, want ErrOverloaded", err)
	}
	if f.Count() != 2 || r1.ID == r2.ID || !strings.HasPrefix(r1.ID, "run_") {
		t.Fatalf("count %d, ids %s %s", f.Count(), r1.ID, r2.ID)
	}
	r1.Done()
	r1.Done() // a second Done does not free another place
	if f.Count() != 1 {
		t.Fatalf("count after Done = %d", f.Count())
	}
	r3, err := a.Admit()
	if err != nil {
		t.Fatal(err)
	}
	r2.Done()
	r3.Done()
	if f.Count() != 0 {
		t.Errorf("count at the end = %d", f.Count())
	}
}

func TestFinished_IsTheRunsLastRecord(t *testing.T) {
	base := audit.Event{RequestID: "req_1", RunID: "run_1", Subject: "alice"}
	f := runs.Frame{Resource: "model:gpt", Model: "gpt"}
	start := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	st := runs.Started(base, f, audit.TypeRunStarted, "pass-through", map[string]string{"message": "hi"})
	if st.Type != audit.TypeRunStarted || st.Resource != "model:gpt" || st.RunID != "run_1" || st.Content["message"] != "hi" {
		t.Errorf("started = %+v", st)
	}
	fin := runs.Finished(base, f, start, start.Add(1500*time.Millisecond), runs.End{Outcome: "ok", Model: "gpt-4"})
	if fin.Type != audit.TypeRunFinished || fin.LatencyMS != 1500 || fin.Model != "gpt-4" || fin.Subject != "alice" {
		t.Errorf("finished = %+v", fin)
	}
	if p := runs.Finished(base, f, start, start, runs.End{Type: audit.TypeRunPaused}); p.Type != audit.TypeRunPaused || p.Model != "gpt" {
		t.Errorf("paused = %+v", p)
	}
}

// Run ids are named in one place: a door that makes its own bypasses
// admission and the bound on runs in flight.
func TestRunIDsAreMadeOnlyByTheFrontDoor(t *testing.T) {
	var found []string
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == ".git") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), `("run_")`) {
			found = append(found, filepath.ToSlash(path))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"../../internal/runs/runs.go"}; !slices.Equal(found, want) {
		t.Errorf("run ids are made in %v; want only %v", found, want)
	}
}
