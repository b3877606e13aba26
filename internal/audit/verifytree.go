package audit

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// TreeOptions adds the Merkle tree's checks to Verify.
type TreeOptions struct {
	// NoteKey is the log's note verifier: stored note checkpoints must be
	// signed by it (nil: they are not checked).
	NoteKey note.Verifier
	// Witnesses are the witnesses' verifier keys; WitnessQuorum, when
	// positive, is how many of them must have cosigned a checkpoint
	// covering every event (an unwitnessed tail is then a problem).
	Witnesses     []note.Verifier
	WitnessQuorum int
	// Notes are signed checkpoints kept elsewhere (a receipt's): the log
	// must still have that root at that size.
	Notes [][]byte
}

// Tail is the stretch of a chain no checkpoint with the quorum covers.
type Tail struct {
	ChainID   string `json:"chain_id"`
	Witnessed int64  `json:"witnessed"` // the witnessed size; From is Witnessed+1
	Head      int64  `json:"head"`
}

// treeCheck recomputes each chain's tree from its events as Verify scans
// them, and checks every note checkpoint (stored or given) against it.
type treeCheck struct {
	opts      TreeOptions
	trees     TreeStore
	frontiers map[string]*frontier
	notes     map[string]map[int64][]NoteCheckpoint // chain → size → notes to match
	witnessed map[string]int64
	report    func(Problem)
}

func newTreeCheck(ctx context.Context, s Store, opts TreeOptions, report func(Problem)) (*treeCheck, error) {
	tc := &treeCheck{opts: opts, frontiers: map[string]*frontier{}, notes: map[string]map[int64][]NoteCheckpoint{},
		witnessed: map[string]int64{}, report: report}
	ts, ok := s.(TreeStore)
	if !ok {
		return tc, nil
	}
	tc.trees = ts
	stored, err := ts.Notes(ctx, "")
	if err != nil {
		return nil, err
	}
	for _, n := range stored {
		tc.add(n.Signed(), "stored")
	}
	for _, msg := range opts.Notes {
		tc.add(msg, "given")
	}
	return tc, nil
}

// add checks a note's signatures and files it to be matched by size.
func (tc *treeCheck) add(msg []byte, origin string) {
	if tc.opts.NoteKey == nil {
		return
	}
	n, err := OpenNote(msg, tc.opts.NoteKey, tc.opts.Witnesses)
	if err != nil {
		tc.report(Problem{"", 0, origin + " note checkpoint: " + err.Error()})
		return
	}
	if tc.notes[n.ChainID] == nil {
		tc.notes[n.ChainID] = map[int64][]NoteCheckpoint{}
	}
	tc.notes[n.ChainID][n.Size] = append(tc.notes[n.ChainID][n.Size], n)
	if tc.opts.WitnessQuorum > 0 && distinctWitnesses(n, tc.opts.Witnesses) >= tc.opts.WitnessQuorum && n.Size > tc.witnessed[n.ChainID] {
		tc.witnessed[n.ChainID] = n.Size
	}
}

// event extends e's chain's tree (in scan order) and matches the notes at
// the new size.
func (tc *treeCheck) event(e Event) {
	f := tc.frontiers[e.ChainID]
	if f == nil {
		f = &frontier{}
		tc.frontiers[e.ChainID] = f
	}
	if e.Seq != f.size+1 {
		return // a break Verify reports; the tree is checked up to it
	}
	if _, err := f.add(nil, e.Hash); err != nil {
		return
	}
	want := tc.notes[e.ChainID][f.size]
	if len(want) == 0 {
		return
	}
	root, err := f.root()
	if err != nil {
		return
	}
	for _, n := range want {
		if n.Root != root {
			tc.report(Problem{e.ChainID, e.Seq, fmt.Sprintf(
				"the events give another tree root at size %d than a signed checkpoint (history rewritten)", f.size)})
			return
		}
	}
	if tc.trees != nil {
		if got, err := tlog.TreeHash(f.size, treeReader(context.Background(), tc.trees, e.ChainID)); err != nil || got != root {
			tc.report(Problem{e.ChainID, e.Seq, fmt.Sprintf("the stored tree differs from the events at size %d", f.size)})
		}
	}
}

// finish reports checkpoints beyond the events and, with a quorum, each
// chain's unwitnessed tail.
func (tc *treeCheck) finish(heads map[string]ChainHead) []Tail {
	for _, id := range slices.Sorted(maps.Keys(tc.notes)) {
		for size := range tc.notes[id] {
			if f := tc.frontiers[id]; f == nil || size > f.size {
				tc.report(Problem{id, heads[id].Seq + 1, fmt.Sprintf(
					"log ends at seq %d but a signed tree checkpoint has size %d (tail cut off)", heads[id].Seq, size)})
				break
			}
		}
	}
	if tc.opts.WitnessQuorum <= 0 {
		return nil
	}
	var tails []Tail
	for _, id := range slices.Sorted(maps.Keys(heads)) {
		if w := tc.witnessed[id]; w < heads[id].Seq {
			tails = append(tails, Tail{ChainID: id, Witnessed: w, Head: heads[id].Seq})
		}
	}
	return tails
}
