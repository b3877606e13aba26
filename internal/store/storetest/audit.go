// Package storetest is the one conformance suite every storage backend
// runs, so SQLite and PostgreSQL behave the same: the audit store contract
// (including tamper detection through Verify) and the session store contract.
// It also gives tests a scratch PostgreSQL schema (PostgresDSN) and a proxy
// that takes the database server away (StartProxy).
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehousehq/gatehouse/internal/audit"
)

// chain returns n correctly chained events of chainID, starting at seq 1.
// encode pairs events with their canonical encodings for Store.Append.
func encode(t *testing.T, events ...audit.Event) []audit.Sealed {
	t.Helper()
	out, err := audit.Encode(events...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func chain(t *testing.T, chainID string, n int, start time.Time) []audit.Event {
	t.Helper()
	prev := audit.GenesisHash
	var out []audit.Event
	for i := 1; i <= n; i++ {
		e := audit.Event{
			ChainID: chainID, Seq: int64(i), PrevHash: prev,
			Time:      start.Add(time.Duration(i) * time.Second).UTC(),
			RequestID: fmt.Sprintf("req-%d", i), Type: []string{audit.TypeToolDecided, audit.TypeRunStarted}[i%2],
			Subject: fmt.Sprintf("user-%d", i%3), Decision: []string{audit.Allow, audit.Deny}[i%2],
			AuthMethod: "api_key", Roles: []string{"agent", "viewer"}, Resource: "claims_status",
			Content: map[string]string{"arguments": `{"claim_id":"CLM-1001"}`, "message": "héllo <b>&</b>"},
			Usage:   &audit.Usage{PromptTokens: 3, CompletionTokens: 4, TotalTokens: 7}, LatencyMS: int64(i),
		}
		if i%2 == 1 { // events with a trace id and without (as before tracing)
			e.TraceID = fmt.Sprintf("4bf92f3577b34da6a3ce929d0e0e%04x", i)
		}
		if i%3 == 0 { // a delegated caller's events carry the actor chain
			e.Actor = []audit.Actor{{Subject: "support-bot"}, {ClientID: "platform"}}
		}
		h, err := audit.ComputeHash(e)
		if err != nil {
			t.Fatal(err)
		}
		e.Hash, prev = h, h
		out = append(out, e)
	}
	return out
}

// Events returns every event of s, in chain order.
func Events(t testing.TB, s audit.Store) []audit.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []audit.Event
	if err := s.Scan(ctx, time.Time{}, func(e audit.Event) error {
		out = append(out, e)
		return nil
	}); err != nil {
		t.Fatalf("scan audit log: %v", err)
	}
	return out
}

// TestAuditStore runs the audit store contract against stores from open,
// each of which must be fresh and empty.
func TestAuditStore(t *testing.T, open func(t *testing.T) audit.Store) {
	ctx := context.Background()
	start := time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)

	t.Run("AppendHeadScanRoundTrip", func(t *testing.T) {
		s := open(t)
		if _, ok, err := s.Head(ctx, "c1"); err != nil || ok {
			t.Fatalf("Head of empty chain = ok %v, err %v; want false, nil", ok, err)
		}
		a, b := chain(t, "c1", 5, start), chain(t, "c2", 3, start)
		for _, batch := range [][]audit.Event{a[:2], b, a[2:]} {
			if err := s.Append(ctx, encode(t, batch...)); err != nil {
				t.Fatalf("Append: %v", err)
			}
		}
		head, ok, err := s.Head(ctx, "c1")
		if err != nil || !ok {
			t.Fatalf("Head = ok %v, err %v", ok, err)
		}
		if diff := cmp.Diff(a[4], head); diff != "" {
			t.Errorf("Head (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(append(append([]audit.Event{}, a...), b...), Events(t, s)); diff != "" {
			t.Errorf("Scan (-want +got):\n%s", diff)
		}
		res, err := audit.Verify(ctx, s, audit.VerifyOptions{})
		if err != nil || !res.OK || res.Events != 8 || len(res.Chains) != 2 {
			t.Errorf("Verify = %+v, %v; want ok with 8 events in 2 chains", res, err)
		}
	})

	t.Run("DuplicateSeqFailsWholeBatch", func(t *testing.T) {
		s := open(t)
		a := chain(t, "c1", 3, start)
		if err := s.Append(ctx, encode(t, a[:2]...)); err != nil {
			t.Fatal(err)
		}
		if err := s.Append(ctx, encode(t, a[2], a[1])); err == nil {
			t.Fatal("Append of a taken seq succeeded")
		}
		if got := len(Events(t, s)); got != 2 {
			t.Errorf("events after failed batch = %d, want 2 (nothing of the batch kept)", got)
		}
	})

	t.Run("ScanSince", func(t *testing.T) {
		s := open(t)
		if err := s.Append(ctx, encode(t, chain(t, "c1", 6, start)...)); err != nil {
			t.Fatal(err)
		}
		var seqs []int64
		err := s.Scan(ctx, start.Add(4*time.Second), func(e audit.Event) error {
			seqs = append(seqs, e.Seq)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]int64{4, 5, 6}, seqs); diff != "" {
			t.Errorf("Scan since (-want +got):\n%s", diff)
		}
		stop := errors.New("stop")
		n := 0
		if err := s.Scan(ctx, time.Time{}, func(audit.Event) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
			t.Errorf("Scan with failing fn = %v after %d calls, want stop after 1", err, n)
		}
	})

	t.Run("ListFiltersAndPages", func(t *testing.T) {
		s := open(t)
		events := chain(t, "c1", 9, start)
		if err := s.Append(ctx, encode(t, events...)); err != nil {
			t.Fatal(err)
		}
		seqs := func(q audit.Query) []int64 {
			t.Helper()
			var out []int64
			for {
				p, err := audit.List(ctx, s, q)
				if err != nil {
					t.Fatalf("List(%+v): %v", q, err)
				}
				for _, e := range p.Events {
					out = append(out, e.Seq)
				}
				if p.NextCursor == "" {
					return out
				}
				q.Cursor = p.NextCursor
			}
		}
		tests := []struct {
			name string
			q    audit.Query
			want []int64
		}{
			{"all newest first in pages", audit.Query{Limit: 2}, []int64{9, 8, 7, 6, 5, 4, 3, 2, 1}},
			{"subject", audit.Query{Subject: "user-1"}, []int64{7, 4, 1}},
			{"type", audit.Query{Type: audit.TypeRunStarted, Limit: 3}, []int64{9, 7, 5, 3, 1}},
			{"decision", audit.Query{Decision: audit.Allow}, []int64{8, 6, 4, 2}},
			{"since until", audit.Query{Since: start.Add(3 * time.Second), Until: start.Add(6 * time.Second)}, []int64{5, 4, 3}},
			{"combined", audit.Query{Subject: "user-2", Decision: audit.Deny}, []int64{5}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if diff := cmp.Diff(tt.want, seqs(tt.q)); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			})
		}
		asc, err := s.List(ctx, audit.Filter{AfterID: 0, Limit: 3})
		if err != nil || len(asc) != 3 || asc[0].Event.Seq != 1 || asc[0].ID >= asc[1].ID {
			t.Fatalf("List ascending = %v, %v; want seq 1.. with growing ids", asc, err)
		}
		after, err := s.List(ctx, audit.Filter{AfterID: asc[2].ID})
		if err != nil || len(after) != 6 || after[0].Event.Seq != 4 {
			t.Errorf("List after id = %d events, %v; want 6 starting at seq 4", len(after), err)
		}
	})

	t.Run("Checkpoints", func(t *testing.T) {
		s := open(t)
		key := testKey(t)
		want := []audit.Checkpoint{
			audit.SignCheckpoint(key, "c1", 10, audit.GenesisHash, start),
			audit.SignCheckpoint(key, "c2", 20, audit.GenesisHash, start.Add(time.Minute)),
		}
		for _, c := range want {
			if err := s.SaveCheckpoint(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Checkpoints(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Checkpoints (-want +got):\n%s", diff)
		}
		if err := got[1].VerifySignature(nil); err != nil {
			t.Errorf("stored checkpoint signature: %v", err)
		}
	})

	t.Run("Ping", func(t *testing.T) {
		if err := open(t).Ping(ctx); err != nil {
			t.Errorf("Ping: %v", err)
		}
	})

	t.Run("LogGroupCommitUnderConcurrency", func(t *testing.T) {
		testLogConcurrency(t, open(t))
	})
}

// testLogConcurrency records from many goroutines through two logs (two
// processes sharing a store), each event durable when Record returns.
func testLogConcurrency(t *testing.T, s audit.Store) {
	ctx := context.Background()
	logs := make([]*audit.Log, 2)
	for i := range logs {
		l, err := audit.New(audit.Config{Store: s, ChainID: fmt.Sprintf("proc-%d", i), CheckpointKey: testKey(t),
			CheckpointEvery: 50})
		if err != nil {
			t.Fatal(err)
		}
		logs[i] = l
	}
	const workers, each = 40, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				rid := fmt.Sprintf("w%d-%d", w, i)
				if err := logs[w%2].Record(ctx, audit.Event{Type: audit.TypeRunStarted, RequestID: rid},
					audit.Event{Type: audit.TypeRunFinished, RequestID: rid}); err != nil {
					errs <- err
					continue
				}
				// Durable means readable by anyone now.
				p, err := audit.List(ctx, s, audit.Query{Limit: 1})
				if err != nil || len(p.Events) == 0 {
					errs <- fmt.Errorf("event not visible after Record: %v", err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, l := range logs {
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	res, err := audit.Verify(ctx, s, audit.VerifyOptions{})
	if err != nil || !res.OK {
		t.Fatalf("Verify = %+v, %v", res, err)
	}
	if res.Events != workers*each*2 || len(res.Chains) != 2 || res.Chains["proc-0"].Seq != workers*each {
		t.Errorf("Verify = %+v; want %d events in 2 chains of %d", res, workers*each*2, workers*each)
	}
	if res.Checkpoints == 0 {
		t.Error("no checkpoints written")
	}
	st := logs[0].Stats()
	t.Logf("log 0: %d events in %d transactions", st.Events, st.Batches)
	if st.Batches >= st.Events/2 {
		t.Errorf("%d transactions for %d events: concurrent records did not share commits", st.Batches, st.Events)
	}
}
