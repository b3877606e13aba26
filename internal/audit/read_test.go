package audit_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/store/storetest"
)

func TestExportWritesEventsThenCheckpoints(t *testing.T) {
	s := openStore(t)
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	l := newLog(t, audit.Config{Store: s, ChainID: "c1", CheckpointKey: key, CheckpointEvery: 2})
	ctx := context.Background()
	for range 3 {
		if err := l.Record(ctx, audit.Event{Type: audit.TypeRunStarted, Subject: "alice"}); err != nil {
			t.Fatal(err)
		}
	}
	l.Close() // final checkpoint at 3
	var buf bytes.Buffer
	if err := audit.Export(ctx, &buf, s, time.Time{}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 5 {
		t.Fatalf("export has %d lines, want 3 events + 2 checkpoints:\n%s", len(lines), buf.String())
	}
	var e audit.Event
	if err := json.Unmarshal([]byte(lines[2]), &e); err != nil || e.Seq != 3 || e.Hash == "" {
		t.Errorf("line 3 = %s (%v), want event seq 3 with hash", lines[2], err)
	}
	cps, err := audit.ReadCheckpoints(&buf)
	if err != nil || len(cps) != 2 || cps[1].Seq != 3 {
		t.Fatalf("ReadCheckpoints(export) = %+v, %v", cps, err)
	}
	one, _ := json.Marshal(cps[1])
	single, err := audit.ReadCheckpoints(bytes.NewReader(one))
	if err != nil || len(single) != 1 || single[0].Hash != cps[1].Hash {
		t.Errorf("ReadCheckpoints(single) = %+v, %v", single, err)
	}
	if _, err := audit.ReadCheckpoints(strings.NewReader(lines[0] + "\n")); err == nil {
		t.Error("ReadCheckpoints of events only succeeded")
	}
}

func TestWriteTail(t *testing.T) {
	s := openStore(t)
	l := newLog(t, audit.Config{Store: s, ChainID: "c1"})
	ctx := context.Background()
	for _, who := range []string{"a", "b", "c"} {
		if err := l.Record(ctx, audit.Event{Type: audit.TypeAuthzDecided, Subject: who, Decision: audit.Deny}); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := audit.WriteTail(ctx, &buf, s, audit.TailOptions{Lines: 2}); err != nil {
		t.Fatal(err)
	}
	got := buf.String()
	if strings.Count(got, "\n") != 2 || !strings.Contains(got, "subject=b") ||
		strings.Index(got, "subject=b") > strings.Index(got, "subject=c") || !strings.Contains(got, "decision=deny") {
		t.Errorf("tail =\n%s\nwant b then c", got)
	}

	// Follow prints new events until the context ends.
	fctx, cancel := context.WithCancel(ctx)
	pr := &storetest.SyncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- audit.WriteTail(fctx, pr, s, audit.TailOptions{Lines: 1, Follow: true, JSON: true, Poll: 10 * time.Millisecond})
	}()
	// The follower first prints the last existing event; only then is "d"
	// new to it.
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(pr.String(), `"subject":"c"`) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := l.Record(ctx, audit.Event{Type: audit.TypeRunFinished, Subject: "d"}); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(2 * time.Second)
	for !strings.Contains(pr.String(), `"subject":"d"`) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("WriteTail follow = %v", err)
	}
	if out := pr.String(); strings.Count(out, "\n") != 2 || !strings.Contains(out, `"subject":"d"`) {
		t.Errorf("followed output =\n%s\nwant c then d as JSON lines", out)
	}
}

func TestParseQuery(t *testing.T) {
	q, err := audit.ParseQuery(url.Values{"subject": {"alice"}, "since": {"2025-01-02T03:04:05Z"}, "limit": {"5"}})
	if err != nil || q.Subject != "alice" || q.Limit != 5 || q.Since.Year() != 2025 {
		t.Errorf("ParseQuery = %+v, %v", q, err)
	}
	// Years a store's nanosecond times cannot hold would wrap and select nothing.
	for _, bad := range []url.Values{{"since": {"yesterday"}}, {"limit": {"0"}}, {"until": {"1"}},
		{"until": {"9999-12-31T23:59:59Z"}}, {"until": {"3000-01-01T00:00:00Z"}}, {"since": {"1600-01-01T00:00:00Z"}}} {
		if _, err := audit.ParseQuery(bad); !errors.Is(err, audit.ErrBadQuery) {
			t.Errorf("ParseQuery(%v) = %v, want ErrBadQuery", bad, err)
		}
	}
	if q, err := audit.ParseQuery(url.Values{"since": {"1678-01-01T00:00:00Z"}, "until": {"2261-12-31T23:59:59Z"}}); err != nil || q.Until.Year() != 2261 {
		t.Errorf("the widest range = %+v, %v", q, err)
	}
	if _, err := audit.List(context.Background(), openStore(t), audit.Query{Cursor: "x1"}); !errors.Is(err, audit.ErrBadQuery) {
		t.Errorf("List with a bad cursor = %v, want ErrBadQuery", err)
	}
}

// Anchors from an export: every copy given counts (two disagreeing copies
// of one event are not settled by the last), and a line claiming to be both
// a checkpoint and an event is refused.
func TestVerifyAnchors_EveryCopyCounts(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	l := newLog(t, audit.Config{Store: s, ChainID: "c1"})
	recordRuns(t, l, 3)
	l.Close()
	var buf bytes.Buffer
	if err := audit.Export(ctx, &buf, s, time.Time{}); err != nil {
		t.Fatal(err)
	}
	_, anchors, err := audit.ReadExport(&buf)
	if err != nil || len(anchors) != 3 {
		t.Fatalf("ReadExport = %d anchors, %v", len(anchors), err)
	}
	forged := audit.Anchor{ChainID: "c1", Seq: 2, Hash: strings.Repeat("f", 64)}
	for _, order := range [][]audit.Anchor{append([]audit.Anchor{forged}, anchors...), append(anchors, forged)} {
		res, err := audit.Verify(ctx, s, audit.VerifyOptions{Anchors: order})
		if err != nil || res.OK || res.FirstBad.Seq != 2 || !strings.Contains(res.FirstBad.Reason, "exported copy") {
			t.Errorf("Verify with a disagreeing copy = %+v, %v; want a problem at seq 2", res, err)
		}
	}
	both := `{"chain_id":"c1","seq":1,"hash":"` + anchors[0].Hash + `","checkpoint":{"chain_id":"c1","seq":1}}` + "\n"
	if _, _, err := audit.ReadExport(strings.NewReader(both)); err == nil || !strings.Contains(err.Error(), "both") {
		t.Errorf("ReadExport of a line that is both: %v", err)
	}
}
