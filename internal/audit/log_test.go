package audit_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/store/sqlite"
	"github.com/gatehousehq/gatehouse/internal/store/storetest"
)

func openStore(t *testing.T) *sqlite.AuditStore {
	t.Helper()
	s, err := sqlite.OpenAudit(context.Background(), filepath.Join(t.TempDir(), "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newLog(t *testing.T, cfg audit.Config) *audit.Log {
	t.Helper()
	l, err := audit.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// recordRuns records n run.started events through l.
func recordRuns(t *testing.T, l *audit.Log, n int) {
	t.Helper()
	for range n {
		if err := l.Record(context.Background(), audit.Event{Type: audit.TypeRunStarted}); err != nil {
			t.Fatal(err)
		}
	}
}

func mustVerify(t *testing.T, s audit.Store, opts audit.VerifyOptions) audit.VerifyResult {
	t.Helper()
	res, err := audit.Verify(context.Background(), s, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK {
		t.Fatalf("Verify: %v", res.Err())
	}
	return res
}

// faultyStore injects failures into Append.
type faultyStore struct {
	audit.Store
	appendHook func(ctx context.Context, events []audit.Sealed) error
}

func (f *faultyStore) Append(ctx context.Context, events []audit.Sealed) error {
	if f.appendHook != nil {
		return f.appendHook(ctx, events)
	}
	return f.Store.Append(ctx, events)
}

func TestNewRejectsBadConfig(t *testing.T) {
	s := openStore(t)
	tests := []struct {
		name string
		cfg  audit.Config
	}{
		{"no store", audit.Config{}},
		{"unknown mode", audit.Config{Store: s, ContentMode: "raw"}},
		{"hmac without key", audit.Config{Store: s, ContentMode: audit.ContentHMAC}},
		{"hmac short key", audit.Config{Store: s, ContentMode: audit.ContentHMAC, HMACKey: []byte("short")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if l, err := audit.New(tt.cfg); err == nil {
				l.Close()
				t.Error("New succeeded")
			}
		})
	}
}

func TestContentModes(t *testing.T) {
	key := []byte("0123456789abcdef")
	raw := map[string]string{"message": "my card is 4111", "arguments": `{"customer_id":"C-100"}`}
	tests := []struct {
		mode audit.ContentMode
		want map[string]string
	}{
		{audit.ContentFull, raw},
		{audit.ContentHMAC, map[string]string{
			"message": audit.HashValue(key, raw["message"]), "arguments": audit.HashValue(key, raw["arguments"])}},
		{audit.ContentNone, nil},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			s := openStore(t)
			l := newLog(t, audit.Config{Store: s, ContentMode: tt.mode, HMACKey: key})
			in := map[string]string{"message": raw["message"], "arguments": raw["arguments"]}
			if err := l.Record(context.Background(), audit.Event{Type: audit.TypeRunStarted, Content: in}); err != nil {
				t.Fatal(err)
			}
			got := storetest.Events(t, s)[0].Content
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("stored content (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(raw, in); diff != "" {
				t.Errorf("caller's content changed (-want +got):\n%s", diff)
			}
		})
	}
}

// RFC 4231 test case 2.
func TestHashValue(t *testing.T) {
	got := audit.HashValue([]byte("Jefe"), "what do ya want for nothing?")
	want := "hmac-sha256:5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
	if got != want {
		t.Errorf("HashValue = %s, want %s", got, want)
	}
}

func TestRecordFillsChainFields(t *testing.T) {
	s := openStore(t)
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	l := newLog(t, audit.Config{Store: s, ChainID: "main", Now: func() time.Time { return at }})
	ctx := context.Background()
	if err := l.Record(ctx, audit.Event{Type: audit.TypeRunStarted, Seq: 99, Hash: "forged"},
		audit.Event{Type: audit.TypeRunFinished}); err != nil {
		t.Fatal(err)
	}
	got := storetest.Events(t, s)
	if len(got) != 2 || got[0].Seq != 1 || got[1].Seq != 2 || got[0].PrevHash != audit.GenesisHash ||
		got[1].PrevHash != got[0].Hash || !got[0].Time.Equal(at) || got[0].ChainID != "main" {
		t.Errorf("stored events = %+v", got)
	}
	if err := l.Record(ctx, audit.Event{}); err == nil || errors.Is(err, audit.ErrUnavailable) {
		t.Errorf("Record without type = %v, want a plain error", err)
	}
}

func TestRecordFailsClosedWhenStoreHangs(t *testing.T) {
	s := &faultyStore{Store: openStore(t), appendHook: func(ctx context.Context, _ []audit.Sealed) error {
		<-ctx.Done()
		return ctx.Err()
	}}
	const bound = 200 * time.Millisecond
	l := newLog(t, audit.Config{Store: s, CommitTimeout: bound})
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			start := time.Now()
			err := l.Record(context.Background(), audit.Event{Type: audit.TypeToolDecided})
			if !errors.Is(err, audit.ErrUnavailable) {
				t.Errorf("Record = %v, want ErrUnavailable", err)
			}
			if took := time.Since(start); took > bound+150*time.Millisecond {
				t.Errorf("Record took %v, bound %v", took, bound)
			}
		})
	}
	wg.Wait()
}

// Record reuses its timers: one that expired (a Record that timed out)
// must give the next Record its whole bound, not the old expiry.
func TestRecordAfterATimeoutGetsItsWholeBound(t *testing.T) {
	var calls atomic.Int32
	s := &faultyStore{Store: openStore(t)}
	s.appendHook = func(ctx context.Context, events []audit.Sealed) error {
		if calls.Add(1) == 1 {
			<-ctx.Done()
			return ctx.Err()
		}
		time.Sleep(20 * time.Millisecond) // well within the bound
		return s.Store.Append(ctx, events)
	}
	l := newLog(t, audit.Config{Store: s, CommitTimeout: 100 * time.Millisecond})
	ctx := context.Background()
	if err := l.Record(ctx, audit.Event{Type: audit.TypeRunStarted}); !errors.Is(err, audit.ErrUnavailable) {
		t.Fatalf("Record over a hung store = %v, want ErrUnavailable", err)
	}
	for i := range 5 {
		if err := l.Record(ctx, audit.Event{Type: audit.TypeRunStarted}); err != nil {
			t.Fatalf("Record %d after the timeout: %v", i, err)
		}
	}
}

func TestRecordHonoursContext(t *testing.T) {
	block := make(chan struct{})
	s := &faultyStore{Store: openStore(t), appendHook: func(ctx context.Context, _ []audit.Sealed) error {
		<-block
		return errors.New("late")
	}}
	l := newLog(t, audit.Config{Store: s})
	defer close(block)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := l.Record(ctx, audit.Event{Type: audit.TypeToolDecided})
	if !errors.Is(err, audit.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Record = %v, want ErrUnavailable and DeadlineExceeded", err)
	}
}

// A commit that reports failure may still have happened (a lost ack). The
// next batch must continue from what the store holds, not from memory.
func TestFailedCommitReloadsHead(t *testing.T) {
	inner := openStore(t)
	var calls atomic.Int32
	s := &faultyStore{Store: inner}
	s.appendHook = func(ctx context.Context, events []audit.Sealed) error {
		switch calls.Add(1) {
		case 2: // committed, but the caller hears an error
			if err := inner.Append(ctx, events); err != nil {
				return err
			}
			return errors.New("connection reset")
		case 3: // not committed
			return errors.New("disk full")
		}
		return inner.Append(ctx, events)
	}
	l := newLog(t, audit.Config{Store: s, ChainID: "c1"})
	ctx := context.Background()
	want := []error{nil, audit.ErrUnavailable, audit.ErrUnavailable, nil, nil}
	for i, w := range want {
		err := l.Record(ctx, audit.Event{Type: audit.TypeRunStarted})
		if !errors.Is(err, w) || (w == nil && err != nil) {
			t.Fatalf("Record %d = %v, want %v", i, err, w)
		}
	}
	res := mustVerify(t, inner, audit.VerifyOptions{})
	if res.Events != 4 || res.Chains["c1"].Seq != 4 {
		t.Errorf("Verify = %+v; want 4 events (3 acknowledged, 1 with a lost ack)", res)
	}
	if st := l.Stats(); st.Failures != 2 {
		t.Errorf("Stats = %+v, want 2 failures", st)
	}
}

func TestRecordAfterCloseFails(t *testing.T) {
	l := newLog(t, audit.Config{Store: openStore(t)})
	l.Close()
	if err := l.Record(context.Background(), audit.Event{Type: audit.TypeRunStarted}); !errors.Is(err, audit.ErrUnavailable) {
		t.Errorf("Record after Close = %v, want ErrUnavailable", err)
	}
	if err := l.Ready(context.Background()); !errors.Is(err, audit.ErrUnavailable) {
		t.Errorf("Ready after Close = %v, want ErrUnavailable", err)
	}
}

func TestAuthFailuresAreBoundedAndCounted(t *testing.T) {
	s := openStore(t)
	var now atomic.Int64
	now.Store(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()).UTC() }
	l := newLog(t, audit.Config{Store: s, AuthFailureRate: 1, AuthFailureBurst: 3, Now: clock})
	ctx := context.Background()
	for range 10 {
		if err := l.RecordAuthFailure(ctx, audit.Event{Reason: "invalid token"}); err != nil {
			t.Fatal(err)
		}
	}
	now.Add(int64(2 * time.Second)) // two more tokens
	for range 5 {
		if err := l.RecordAuthFailure(ctx, audit.Event{Reason: "invalid token"}); err != nil {
			t.Fatal(err)
		}
	}
	if got := l.Stats().Suppressed; got != 10 {
		t.Errorf("Suppressed = %d, want 10", got)
	}
	l.Close()
	var failed, suppressed int64
	for _, e := range storetest.Events(t, s) {
		switch e.Type {
		case audit.TypeAuthFailed:
			failed++
		case audit.TypeAuthSuppressed:
			suppressed += e.Count
		}
	}
	if failed != 5 || suppressed != 10 {
		t.Errorf("recorded %d auth.failed and suppressed count %d; want 5 and 10", failed, suppressed)
	}
}

func TestCheckpointsEveryNEventsAndWhenIdle(t *testing.T) {
	s := openStore(t)
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	ticks := make(chan time.Time)
	l := newLog(t, audit.Config{Store: s, ChainID: "c1", CheckpointKey: key, CheckpointEvery: 3, CheckpointTicks: ticks})
	ctx := context.Background()
	recordRuns(t, l, 7)
	// Idle intervals pass: one checkpoint of seq 7, not one per interval.
	// The writer takes one tick at a time, so the last send returns only
	// once the ticks before it were handled.
	for range 3 {
		ticks <- time.Now()
	}
	cps, err := s.Checkpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []int64
	for _, c := range cps {
		if len(seqs) == 0 || seqs[len(seqs)-1] != c.Seq {
			seqs = append(seqs, c.Seq)
		}
	}
	if len(cps) != 3 || seqs[len(seqs)-1] != 7 || !containsAll(seqs, 3, 6) {
		t.Errorf("checkpoint seqs %v (%d checkpoints); want 3, 6 and one idle one at 7", seqs, len(cps))
	}
	mustVerify(t, s, audit.VerifyOptions{PublicKey: key.Public().(ed25519.PublicKey)})

	_, other, _ := ed25519.GenerateKey(rand.Reader)
	res, err := audit.Verify(ctx, s, audit.VerifyOptions{PublicKey: other.Public().(ed25519.PublicKey)})
	if err != nil || res.OK || !strings.Contains(res.FirstBad.Reason, "unexpected key") {
		t.Errorf("Verify with another key = %+v, %v; want a checkpoint problem", res, err)
	}
}

func containsAll(s []int64, vs ...int64) bool {
	for _, v := range vs {
		found := false
		for _, x := range s {
			found = found || x == v
		}
		if !found {
			return false
		}
	}
	return true
}

// A process that starts on a chain whose tail no checkpoint covers (the
// last one died before signing) signs the head it found once, and then not
// again while idle.
func TestCheckpointsTheHeadFoundAtStartOnce(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	first := newLog(t, audit.Config{Store: s, ChainID: "c1"}) // no key: nothing signed
	recordRuns(t, first, 4)
	first.Close()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	newLog(t, audit.Config{Store: s, ChainID: "c1", CheckpointKey: key, CheckpointInterval: 20 * time.Millisecond})
	time.Sleep(200 * time.Millisecond)
	cps, err := s.Checkpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cps) != 1 || cps[0].Seq != 4 {
		t.Errorf("%d checkpoints; want one, of seq 4", len(cps))
	}
}

// An append whose acknowledgement was lost (committed, but reported as
// failed) leaves the head unknown; the next interval reloads and signs it
// even though nothing more is written.
func TestCheckpointsSignATailWhoseAcknowledgementWasLost(t *testing.T) {
	inner := openStore(t)
	fs := &faultyStore{Store: inner}
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	l := newLog(t, audit.Config{Store: fs, ChainID: "c1", CheckpointKey: key, CheckpointInterval: 20 * time.Millisecond})
	ctx := context.Background()
	recordRuns(t, l, 2)
	time.Sleep(100 * time.Millisecond)
	fs.appendHook = func(ctx context.Context, evs []audit.Sealed) error {
		if err := inner.Append(ctx, evs); err != nil {
			return err
		}
		return errors.New("connection reset after the commit")
	}
	if err := l.Record(ctx, audit.Event{Type: audit.TypeRunStarted}); err == nil {
		t.Fatal("Record succeeded; want the lost acknowledgement reported")
	}
	fs.appendHook = nil
	time.Sleep(300 * time.Millisecond)
	cps, err := inner.Checkpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if last := cps[len(cps)-1]; last.Seq != 3 {
		t.Errorf("last checkpoint at seq %d; want 3, the committed head", last.Seq)
	}
}

// The store receives each event with the bytes its hash covers, so it
// stores what was hashed without encoding the event again.
func TestAppend_StoreGetsTheHashedEncoding(t *testing.T) {
	inner := openStore(t)
	var got []audit.Sealed
	s := &faultyStore{Store: inner}
	s.appendHook = func(ctx context.Context, events []audit.Sealed) error {
		got = append(got, events...)
		return inner.Append(ctx, events)
	}
	l := newLog(t, audit.Config{Store: s, ChainID: "c1", ContentMode: audit.ContentHMAC, HMACKey: []byte("0123456789abcdef0123")})
	err := l.Record(context.Background(),
		audit.Event{Type: audit.TypeRunStarted, Subject: "alice", Roles: []string{"customer"}},
		audit.Event{Type: audit.TypeToolDecided, Decision: "allow", Content: map[string]string{"arguments": `{"a":1}`}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("store got %d events, want 2", len(got))
	}
	for _, e := range got {
		want, err := audit.EncodeCanonical(e.Event)
		if err != nil {
			t.Fatal(err)
		}
		if string(e.Canonical) != string(want) {
			t.Errorf("seq %d: Canonical = %s, want %s", e.Seq, e.Canonical, want)
		}
		if h, _ := audit.ComputeHash(e.Event); h != e.Hash {
			t.Errorf("seq %d: Hash = %s, want %s", e.Seq, e.Hash, h)
		}
	}
}

// RecordIDs names each event it committed, in order, for Records of one
// event and of more (held in the request itself or beside it).
func TestRecordIDs_NamesEachEventInOrder(t *testing.T) {
	s := openStore(t)
	l := newLog(t, audit.Config{Store: s, ChainID: "c1"})
	ctx := context.Background()
	var want, got []audit.EventID
	for _, n := range []int{1, 2, 3, 5} {
		events := make([]audit.Event, n)
		for i := range events {
			events[i] = audit.Event{Type: audit.TypeToolDecided, Resource: fmt.Sprint("tool ", i)}
		}
		ids, err := l.RecordIDs(ctx, events...)
		if err != nil {
			t.Fatal(err)
		}
		for range n {
			want = append(want, audit.EventID{ChainID: "c1", Seq: int64(len(want) + 1)})
		}
		got = append(got, ids...)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
	stored := storetest.Events(t, s)
	if len(stored) != len(want) {
		t.Fatalf("%d events stored, want %d", len(stored), len(want))
	}
	for i, e := range stored[len(stored)-5:] {
		if e.Resource != fmt.Sprint("tool ", i) {
			t.Errorf("event %d of the last Record: resource %q", i, e.Resource)
		}
	}
	mustVerify(t, s, audit.VerifyOptions{})
}
