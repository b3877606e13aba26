package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/tlog"
)

// The writer's frontier computes the stored hashes and the root itself;
// tlog, over every hash stored so far, is the reference it must equal
// leaf by leaf.
func TestFrontier_EqualsTlog(t *testing.T) {
	stored := map[int64]tlog.Hash{}
	all := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, x := range indexes {
			h, ok := stored[x]
			if !ok {
				return nil, fmt.Errorf("no hash %d", x)
			}
			out[i] = h
		}
		return out, nil
	})
	f := &frontier{}
	var got []StoredHash
	for n := range int64(300) {
		sum := sha256.Sum256([]byte(fmt.Sprint("event ", n)))
		eventHash := hex.EncodeToString(sum[:])
		leaf, err := LeafHash(eventHash)
		if err != nil {
			t.Fatal(err)
		}
		if want := tlog.RecordHash(sum[:]); leaf != want {
			t.Fatalf("leaf %d: %x, tlog.RecordHash gives %x", n, leaf, want)
		}
		want, err := tlog.StoredHashesForRecordHash(n, leaf, all)
		if err != nil {
			t.Fatal(err)
		}
		if got, err = f.add(got[:0], eventHash); err != nil {
			t.Fatal(err)
		}
		for i, h := range want {
			stored[tlog.StoredHashIndex(0, n)+int64(i)] = h
		}
		var gotHashes []tlog.Hash
		for i, h := range got {
			if wantIndex := tlog.StoredHashIndex(0, n) + int64(i); h.Index != wantIndex {
				t.Fatalf("leaf %d: hash %d at index %d, want %d", n, i, h.Index, wantIndex)
			}
			gotHashes = append(gotHashes, h.Hash)
		}
		if diff := cmp.Diff(want, gotHashes); diff != "" {
			t.Fatalf("leaf %d: stored hashes (-tlog +frontier):\n%s", n, diff)
		}
		root, err := f.root()
		if err != nil {
			t.Fatal(err)
		}
		if wantRoot, err := tlog.TreeHash(n+1, all); err != nil || root != wantRoot {
			t.Fatalf("size %d: root %x, tlog gives %x (%v)", n+1, root, wantRoot, err)
		}
	}
}

// A copy made with set is extended apart from the frontier it copies: a
// batch that fails to commit leaves the writer's tree as it was.
func TestFrontier_SetCopies(t *testing.T) {
	var f, g frontier
	for n := range 5 {
		sum := sha256.Sum256([]byte{byte(n)})
		f.addLeaf(nil, leafHash(&sum))
	}
	before, err := f.root()
	if err != nil {
		t.Fatal(err)
	}
	g.set(&f)
	for n := range 3 {
		sum := sha256.Sum256([]byte{byte(10 + n)})
		g.addLeaf(nil, leafHash(&sum))
	}
	if after, err := f.root(); err != nil || after != before || f.size != 5 {
		t.Fatalf("extending the copy changed the original: size %d, root %x → %x (%v)", f.size, before, after, err)
	}
}
