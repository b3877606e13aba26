package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// Each chain also has an RFC 6962 Merkle tree whose leaves are its events'
// hashes (leaf i is the event at seq i+1; its data is the 32 raw bytes of
// the hex hash). The tree is kept as the hashes golang.org/x/mod/sumdb/tlog
// stores (StoredHashes), indexed by tlog.StoredHashIndex, written in the
// same transaction as the events: a chain's tree size always equals its
// head seq once built.

// StoredHash is one stored tree hash.
type StoredHash struct {
	Index int64
	Hash  tlog.Hash
}

// TreeStore is a Store that also keeps each chain's Merkle tree and its
// signed-note checkpoints. Both backends implement it (storetest); a Log
// over a plain Store keeps no tree.
type TreeStore interface {
	Store
	// Append must also store each Sealed.Tree in the same transaction.
	//
	// EventAt returns the event of chainID at seq, or ok=false.
	EventAt(ctx context.Context, chainID string, seq int64) (e Event, ok bool, err error)
	//
	// TreeHashes returns the stored hashes at indexes (all must exist).
	TreeHashes(ctx context.Context, chainID string, indexes []int64) ([]tlog.Hash, error)
	// TreeSize returns how many leaves of chainID's tree are stored.
	TreeSize(ctx context.Context, chainID string) (int64, error)
	// ChainHeads returns every chain's head seq.
	ChainHeads(ctx context.Context) (map[string]int64, error)
	// AppendTree stores hashes built for events already in the log
	// (backfill); a hash already stored at an index is kept.
	AppendTree(ctx context.Context, chainID string, hashes []StoredHash) error
	// SaveNote stores a signed-note checkpoint; one already stored for the
	// chain and size is kept.
	SaveNote(ctx context.Context, n NoteCheckpoint) error
	// Notes returns chainID's note checkpoints ("": every chain's) with
	// their cosignatures, by chain and size.
	Notes(ctx context.Context, chainID string) ([]NoteCheckpoint, error)
	// AddCosignature stores a witness's cosignature line of the note at
	// (chainID, size).
	AddCosignature(ctx context.Context, chainID string, size int64, c Cosignature) error
}

// LeafHash is the RFC 6962 leaf hash of an event hash (hex).
func LeafHash(eventHash string) (tlog.Hash, error) {
	raw, err := hex.DecodeString(eventHash)
	if err != nil || len(raw) != tlog.HashSize {
		return tlog.Hash{}, fmt.Errorf("event hash %q is not 32 bytes of hex", eventHash)
	}
	return leafHash((*[tlog.HashSize]byte)(raw)), nil
}

// leafHash is tlog.RecordHash of an event's raw hash: SHA-256(0x00 ||
// hash), without the hasher tlog allocates for each record.
func leafHash(raw *[sha256.Size]byte) tlog.Hash {
	var buf [1 + sha256.Size]byte
	copy(buf[1:], raw[:])
	return sha256.Sum256(buf[:])
}

// frontier is a chain's tree as the writer extends it: its size and the
// roots of the complete subtrees it is made of (all that is needed to add
// a leaf or compute the root). Owned by the writer goroutine.
type frontier struct {
	size int64
	// roots holds one hash per set bit of size, the largest (leftmost)
	// subtree first: the last is the one a new leaf joins first.
	roots []tlog.Hash
}

// frontierIndexes are the stored indexes of the complete subtrees that
// make up a tree of size n, smallest subtree first.
func frontierIndexes(n int64) []int64 {
	var out []int64
	for level := 0; n>>level > 0; level++ {
		if (n>>level)&1 == 1 {
			out = append(out, tlog.StoredHashIndex(level, (n>>level)-1))
		}
	}
	return out
}

// ReadHashes serves tlog (TreeHash, for the root) from the frontier.
func (f *frontier) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	have := frontierIndexes(f.size) // smallest subtree first: roots reversed
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		j := slices.Index(have, x)
		if j < 0 {
			return nil, fmt.Errorf("tree hash %d not in the frontier of size %d", x, f.size)
		}
		out[i] = f.roots[len(f.roots)-1-j]
	}
	return out, nil
}

// add appends the leaf of an event hash (hex) and appends the hashes to
// store for it to dst.
func (f *frontier) add(dst []StoredHash, eventHash string) ([]StoredHash, error) {
	leaf, err := LeafHash(eventHash)
	if err != nil {
		return dst, err
	}
	return f.addLeaf(dst, leaf), nil
}

// addLeaf appends a leaf hash and appends the hashes to store for it to
// dst: the leaf, then the hash of each subtree it completes (each
// trailing 1 bit of the old size joins two subtrees), at consecutive
// stored indexes, as tlog.StoredHashesForRecordHash gives them.
func (f *frontier) addLeaf(dst []StoredHash, leaf tlog.Hash) []StoredHash {
	x := tlog.StoredHashIndex(0, f.size)
	dst = append(dst, StoredHash{x, leaf})
	h := leaf
	for n := f.size; n&1 == 1; n >>= 1 {
		last := len(f.roots) - 1
		h = tlog.NodeHash(f.roots[last], h)
		f.roots = f.roots[:last]
		x++
		dst = append(dst, StoredHash{x, h})
	}
	f.roots = append(f.roots, h)
	f.size++
	return dst
}

// root is the tree's root hash.
func (f *frontier) root() (tlog.Hash, error) { return tlog.TreeHash(f.size, f) }

// set makes f a copy of g, reusing f's memory.
func (f *frontier) set(g *frontier) {
	f.size, f.roots = g.size, append(f.roots[:0], g.roots...)
}

// loadFrontier reads a chain's frontier from the store, first building
// the tree for events stored without one (a log from before the tree).
func loadFrontier(ctx context.Context, s TreeStore, chainID string) (*frontier, error) {
	if _, err := BuildTree(ctx, s, chainID); err != nil {
		return nil, err
	}
	return readFrontier(ctx, s, chainID)
}

// BuildTree extends chainID's stored tree over the chain's events that it
// does not cover yet and returns the tree's size.
func BuildTree(ctx context.Context, s TreeStore, chainID string) (int64, error) {
	head, ok, err := s.Head(ctx, chainID)
	if err != nil {
		return 0, fmt.Errorf("build tree: %w", err)
	}
	if !ok {
		return 0, nil
	}
	sizes, err := buildTrees(ctx, s, map[string]int64{chainID: head.Seq})
	return sizes[chainID], err
}

// BuildTrees builds the tree of every chain whose tree is behind its
// events (at start, for a log written before trees): one query when none
// is, one scan of the log otherwise.
func BuildTrees(ctx context.Context, s TreeStore) error {
	heads, err := s.ChainHeads(ctx)
	if err != nil {
		return fmt.Errorf("build trees: %w", err)
	}
	_, err = buildTrees(ctx, s, heads)
	return err
}

// buildTrees brings the trees of the chains in heads (chain → head seq)
// up to their heads, appending hashes in chunks (an interrupted build
// continues where it stopped), and returns each tree's size.
func buildTrees(ctx context.Context, s TreeStore, heads map[string]int64) (map[string]int64, error) {
	sizes := map[string]int64{}
	behind := map[string]*frontier{}
	for id, head := range heads {
		f, err := readFrontier(ctx, s, id)
		if err != nil {
			return nil, err
		}
		sizes[id] = f.size
		if f.size < head {
			behind[id] = f
		}
	}
	if len(behind) == 0 {
		return sizes, nil
	}
	var pending []StoredHash
	var pendingChain string
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		err := s.AppendTree(ctx, pendingChain, pending)
		pending = pending[:0]
		return err
	}
	err := s.Scan(ctx, time.Time{}, func(e Event) error {
		f := behind[e.ChainID]
		if f == nil || e.Seq <= f.size {
			return nil
		}
		if e.ChainID != pendingChain {
			if err := flush(); err != nil {
				return err
			}
			pendingChain = e.ChainID
		}
		if e.Seq != f.size+1 {
			return fmt.Errorf("chain %s seq %d follows seq %d: the tree is built over an unbroken chain only", e.ChainID, e.Seq, f.size)
		}
		var err error
		if pending, err = f.add(pending, e.Hash); err != nil {
			return err
		}
		sizes[e.ChainID] = f.size
		if len(pending) >= 2048 {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return nil, fmt.Errorf("build trees: %w", err)
	}
	return sizes, nil
}

// readFrontier reads the frontier of a chain's stored tree.
func readFrontier(ctx context.Context, s TreeStore, chainID string) (*frontier, error) {
	size, err := s.TreeSize(ctx, chainID)
	if err != nil {
		return nil, fmt.Errorf("read tree size: %w", err)
	}
	hs, err := s.TreeHashes(ctx, chainID, frontierIndexes(size))
	if err != nil {
		return nil, fmt.Errorf("read tree frontier: %w", err)
	}
	slices.Reverse(hs) // largest subtree first
	return &frontier{size: size, roots: hs}, nil
}

// TreeSizeFromMaxIndex returns the tree size whose last stored hash has
// index max (-1: empty), for stores that keep only the hashes.
func TreeSizeFromMaxIndex(max int64) int64 {
	return int64(sort.Search(int(max+2), func(n int) bool { return tlog.StoredHashCount(int64(n)) > max }))
}
