package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/gatehousehq/gatehouse/internal/audit"
)

// mth is RFC 6962's Merkle Tree Hash, written out from the RFC as an
// independent check of the stored tree.
func mth(leaves [][]byte) tlog.Hash {
	switch n := len(leaves); n {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return sha256.Sum256(append([]byte{0}, leaves[0]...))
	default:
		k := 1
		for k*2 < n {
			k *= 2
		}
		l, r := mth(leaves[:k]), mth(leaves[k:])
		return sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
	}
}

// rootOf computes the RFC 6962 root over the event hashes of events.
func rootOf(t testing.TB, events []audit.Event) tlog.Hash {
	t.Helper()
	var leaves [][]byte
	for _, e := range events {
		b, err := hex.DecodeString(e.Hash)
		if err != nil {
			t.Fatal(err)
		}
		leaves = append(leaves, b)
	}
	return mth(leaves)
}

// StoredRoot is the root of chainID's stored tree at size n.
func StoredRoot(t testing.TB, s audit.TreeStore, chainID string, n int64) tlog.Hash {
	t.Helper()
	h, err := tlog.TreeHash(n, tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		return s.TreeHashes(context.Background(), chainID, idx)
	}))
	if err != nil {
		t.Fatalf("stored root of %s at %d: %v", chainID, n, err)
	}
	return h
}

// NoteKey returns a fresh note signing key named name.
func NoteKey(t testing.TB, name string) audit.NoteKey {
	t.Helper()
	skey, _, err := note.GenerateKey(nil, name)
	if err != nil {
		t.Fatal(err)
	}
	k, err := audit.ParseNoteKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestAuditTree is the conformance suite of the Merkle tree and its note
// checkpoints (audit.TreeStore).
func TestAuditTree(t *testing.T, open func(t *testing.T) audit.Store) {
	ctx := context.Background()
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	trees := func(t *testing.T) audit.TreeStore {
		s, ok := open(t).(audit.TreeStore)
		if !ok {
			t.Fatal("store keeps no tree (not an audit.TreeStore)")
		}
		return s
	}

	t.Run("LogWritesTheTreeWithItsEvents", func(t *testing.T) {
		s := trees(t)
		key := NoteKey(t, "gatehouse.test")
		l, err := audit.New(audit.Config{Store: s, ChainID: "main", NoteKey: key, CheckpointEvery: 7})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 23 {
			if err := l.Record(ctx, audit.Event{Type: audit.TypeRunStarted, Subject: "u", Time: start.Add(time.Duration(i))}); err != nil {
				t.Fatal(err)
			}
		}
		l.Close()
		events := Events(t, s)
		for _, n := range []int64{1, 2, 3, 7, 8, 16, 23} {
			if got, want := StoredRoot(t, s, "main", n), rootOf(t, events[:n]); got != want {
				t.Errorf("root at size %d = %x, RFC 6962 over the events gives %x", n, got, want)
			}
		}
		notes, err := s.Notes(ctx, "main")
		if err != nil {
			t.Fatal(err)
		}
		var sizes []int64
		for _, n := range notes {
			sizes = append(sizes, n.Size)
			if n.Root != rootOf(t, events[:n.Size]) {
				t.Errorf("note at size %d has root %x, not the tree's", n.Size, n.Root)
			}
			v, _ := note.NewVerifier(key.Verifier)
			if _, err := audit.OpenNote(n.Signed(), v, nil); err != nil {
				t.Errorf("note at size %d: %v", n.Size, err)
			}
		}
		if diff := cmp.Diff([]int64{7, 14, 21, 23}, sizes); diff != "" {
			t.Errorf("note sizes (-want +got):\n%s", diff)
		}
	})

	t.Run("BuildTreeBackfillsAChainWrittenWithoutOne", func(t *testing.T) {
		s := trees(t)
		old := chain(t, "old", 13, start)
		if err := s.Append(ctx, encode(t, old...)); err != nil {
			t.Fatal(err)
		}
		if err := s.AppendTree(ctx, "old", nil); err != nil {
			t.Fatal(err)
		}
		if err := audit.BuildTrees(ctx, s); err != nil {
			t.Fatal(err)
		}
		if n, err := s.TreeSize(ctx, "old"); err != nil || n != 13 {
			t.Fatalf("TreeSize = %d, %v; want 13", n, err)
		}
		if got, want := StoredRoot(t, s, "old", 13), rootOf(t, old); got != want {
			t.Errorf("backfilled root = %x, want %x", got, want)
		}
		// Building again changes nothing; a log then continues chain and tree.
		if n, err := audit.BuildTree(ctx, s, "old"); err != nil || n != 13 {
			t.Fatalf("BuildTree again = %d, %v", n, err)
		}
		l, err := audit.New(audit.Config{Store: s, ChainID: "old"})
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Record(ctx, audit.Event{Type: audit.TypeRunStarted}); err != nil {
			t.Fatal(err)
		}
		l.Close()
		if got, want := StoredRoot(t, s, "old", 14), rootOf(t, Events(t, s)); got != want {
			t.Errorf("root after the log continued = %x, want %x", got, want)
		}
	})

	t.Run("NotesAndCosignaturesRoundTrip", func(t *testing.T) {
		s := trees(t)
		key := NoteKey(t, "gatehouse.test")
		a, err := audit.SignNote(key, "c1", 5, tlog.Hash{1})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := audit.SignNote(key, "c1", 9, tlog.Hash{2})
		other, _ := audit.SignNote(key, "c2", 5, tlog.Hash{3})
		for _, n := range []audit.NoteCheckpoint{a, b, other, a} {
			if err := s.SaveNote(ctx, n); err != nil {
				t.Fatalf("SaveNote: %v", err)
			}
		}
		w1 := audit.Cosignature{Witness: "w1.example", Line: "— w1.example AAAA\n"}
		w2 := audit.Cosignature{Witness: "w2.example", Line: "— w2.example BBBB\n"}
		for _, c := range []audit.Cosignature{w2, w1} {
			if err := s.AddCosignature(ctx, "c1", 9, c); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Notes(ctx, "c1")
		if err != nil {
			t.Fatal(err)
		}
		b.Cosignatures = []audit.Cosignature{w1, w2}
		if diff := cmp.Diff([]audit.NoteCheckpoint{a, b}, got); diff != "" {
			t.Errorf("Notes(c1) (-want +got):\n%s", diff)
		}
		all, err := s.Notes(ctx, "")
		if err != nil || len(all) != 3 {
			t.Errorf("Notes(all) = %d notes, %v; want 3", len(all), err)
		}
	})

	t.Run("ProofsReceiptsAndVerify", func(t *testing.T) {
		s := trees(t)
		key := NoteKey(t, "gatehouse.test")
		vkey, err := audit.ParseVerifierKey(key.Verifier)
		if err != nil {
			t.Fatal(err)
		}
		l, err := audit.New(audit.Config{Store: s, ChainID: "main", NoteKey: key, CheckpointEvery: 6})
		if err != nil {
			t.Fatal(err)
		}
		var ids []audit.EventID
		for range 4 {
			got, err := l.RecordIDs(ctx, audit.Event{Type: audit.TypeRunStarted, Subject: "u"}, audit.Event{Type: audit.TypeRunFinished, Subject: "u"}, audit.Event{Type: audit.TypeToolDecided})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, got...)
		}
		l.Close()
		if ids[0].String() != "main:1" || ids[11].String() != "main:12" {
			t.Fatalf("RecordIDs gave %v, want main:1 to main:12", ids)
		}
		for _, id := range ids {
			r, err := audit.Prove(ctx, s, id, 0)
			if err != nil {
				t.Fatalf("Prove %s: %v", id, err)
			}
			if _, err := audit.VerifyReceipt(r, vkey, nil, 0); err != nil {
				t.Errorf("receipt of %s (size %d): %v", id, r.TreeSize, err)
			}
			edited := r
			edited.Event.Reason = "edited"
			if _, err := audit.VerifyReceipt(edited, vkey, nil, 0); err == nil {
				t.Errorf("receipt of %s with an edited event verifies", id)
			}
			moved := r
			moved.Inclusion = append([]tlog.Hash{{7}}, r.Inclusion[1:]...)
			if len(r.Inclusion) > 0 {
				if _, err := audit.VerifyReceipt(moved, vkey, nil, 0); err == nil {
					t.Errorf("receipt of %s with a wrong proof verifies", id)
				}
			}
		}
		if _, err := audit.Prove(ctx, s, audit.EventID{ChainID: "main", Seq: 99}, 0); !errors.Is(err, audit.ErrNoEvent) {
			t.Errorf("Prove of a missing event = %v, want ErrNoEvent", err)
		}
		if _, err := audit.Prove(ctx, s, ids[0], 1); !errors.Is(err, audit.ErrNotCheckpointed) {
			t.Errorf("Prove with a cosignature required = %v, want ErrNotCheckpointed", err)
		}
		p, err := audit.ConsistencyProof(ctx, s, "main", 6, 12)
		if err != nil {
			t.Fatal(err)
		}
		events := Events(t, s)
		if err := tlog.CheckTree(p, 12, rootOf(t, events), 6, rootOf(t, events[:6])); err != nil {
			t.Errorf("consistency proof 6→12: %v", err)
		}
		res, err := audit.Verify(ctx, s, audit.VerifyOptions{Tree: audit.TreeOptions{NoteKey: vkey}})
		if err != nil || !res.OK {
			t.Errorf("Verify with the note key = %+v, %v", res, err)
		}
		other := NoteKey(t, "gatehouse.test")
		forged, _ := audit.SignNote(other, "main", 12, rootOf(t, events))
		res, _ = audit.Verify(ctx, s, audit.VerifyOptions{Tree: audit.TreeOptions{NoteKey: vkey, Notes: [][]byte{forged.Note}}})
		if res.OK {
			t.Error("Verify accepts a note checkpoint signed by another key")
		}
		stale, _ := audit.SignNote(key, "main", 6, rootOf(t, events[1:7]))
		res, _ = audit.Verify(ctx, s, audit.VerifyOptions{Tree: audit.TreeOptions{NoteKey: vkey, Notes: [][]byte{stale.Note}}})
		if res.OK || !strings.Contains(res.FirstBad.Reason, "history rewritten") {
			t.Errorf("Verify against a checkpoint of another history = %+v", res.FirstBad)
		}
	})
}
