package audit

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// VerifyOptions adds trust from outside the store to Verify.
type VerifyOptions struct {
	// Checkpoints kept elsewhere (audit verify --checkpoint FILE). Unlike the
	// stored ones, they survive an attacker who rewrites the whole store.
	Checkpoints []Checkpoint
	// PublicKey, when set, is the only key checkpoints may be signed with.
	PublicKey ed25519.PublicKey
	// Anchors are events of an export kept elsewhere: each must still be in
	// the log with the same hash (see ReadExport).
	Anchors []Anchor
	// Tree checks the Merkle tree and its note checkpoints.
	Tree TreeOptions
}

// Anchor is an event as an export kept elsewhere recorded it.
type Anchor struct {
	ChainID string `json:"chain_id"`
	Seq     int64  `json:"seq"`
	Hash    string `json:"hash"`
}

// ChainHead is the end of one chain as stored: verified when the result
// is OK.
type ChainHead struct {
	Seq    int64  `json:"seq"`
	Hash   string `json:"hash"`
	Events int    `json:"events"`
}

// Problem names the first place where the log is not what was written.
type Problem struct {
	ChainID string `json:"chain_id"`
	Seq     int64  `json:"seq"`
	Reason  string `json:"reason"`
}

func (p Problem) String() string {
	return fmt.Sprintf("chain %s seq %d: %s", p.ChainID, p.Seq, p.Reason)
}

// VerifyResult is the outcome of Verify (and the /admin/audit/verify body).
type VerifyResult struct {
	OK          bool                 `json:"ok"`
	Events      int                  `json:"events"`
	Chains      map[string]ChainHead `json:"chains"`
	Checkpoints int                  `json:"checkpoints"`
	FirstBad    *Problem             `json:"first_bad,omitempty"`
	// Problems are all the places found, in scan order, up to MaxProblems;
	// ProblemCount counts them all.
	Problems     []Problem `json:"problems,omitempty"`
	ProblemCount int       `json:"problem_count,omitempty"`
	// Unwitnessed lists, with a witness quorum, each chain's events that no
	// checkpoint cosigned by the quorum covers (a problem each).
	Unwitnessed []Tail `json:"unwitnessed,omitempty"`
}

// MaxProblems bounds VerifyResult.Problems.
const MaxProblems = 100

// ErrTampered is wrapped by VerifyResult.Err when the log is broken.
var ErrTampered = errors.New("audit log does not verify")

// Err returns nil for an intact log, else an error naming the first problem.
func (r VerifyResult) Err() error {
	if r.OK {
		return nil
	}
	if r.ProblemCount > 1 {
		return fmt.Errorf("%w: %s (and %d more problems)", ErrTampered, r.FirstBad, r.ProblemCount-1)
	}
	return fmt.Errorf("%w: %s", ErrTampered, r.FirstBad)
}

// Verify checks every chain in the store: each event's seq follows the one
// before, its prev_hash is the hash of the one before (genesis: 64 zeros),
// its hash matches its content, and every checkpoint (stored or given) is
// correctly signed and matches the event at its seq — so edits, deletions,
// insertions, reorderings and, given a checkpoint, a cut-off tail are found.
// After a problem the chain is checked on from the stored event where it
// was found, so one break does not hide later edits: every problem is
// reported.
// The error is for a store that cannot be read; a broken log is a result.
func Verify(ctx context.Context, s Store, opts VerifyOptions) (VerifyResult, error) {
	res := VerifyResult{Chains: map[string]ChainHead{}}
	report := func(p Problem) {
		if res.FirstBad == nil {
			res.FirstBad = &p
		}
		res.ProblemCount++
		if len(res.Problems) < MaxProblems {
			res.Problems = append(res.Problems, p)
		}
	}
	stored, err := s.Checkpoints(ctx)
	if err != nil {
		return res, fmt.Errorf("verify audit log: %w", err)
	}
	cps := map[string]map[int64][]Checkpoint{}
	for i, c := range append(stored, opts.Checkpoints...) {
		if err := c.VerifySignature(opts.PublicKey); err != nil {
			origin := "stored"
			if i >= len(stored) {
				origin = "given"
			}
			report(Problem{c.ChainID, c.Seq, origin + " " + err.Error()})
			continue
		}
		if cps[c.ChainID] == nil {
			cps[c.ChainID] = map[int64][]Checkpoint{}
		}
		cps[c.ChainID][c.Seq] = append(cps[c.ChainID][c.Seq], c)
		res.Checkpoints++
	}

	anchors := map[string]map[int64][]string{} // every hash given: copies may disagree
	for _, a := range opts.Anchors {
		if anchors[a.ChainID] == nil {
			anchors[a.ChainID] = map[int64][]string{}
		}
		anchors[a.ChainID][a.Seq] = append(anchors[a.ChainID][a.Seq], a.Hash)
	}

	tc, err := newTreeCheck(ctx, s, opts.Tree, report)
	if err != nil {
		return res, fmt.Errorf("verify audit log: %w", err)
	}
	err = s.Scan(ctx, time.Time{}, func(e Event) error {
		tc.event(e)
		res.Events++
		h, seen := res.Chains[e.ChainID]
		if !seen {
			h.Hash = GenesisHash
		}
		for _, p := range checkEvent(e, h, cps[e.ChainID][e.Seq]) {
			report(p)
		}
		for _, want := range anchors[e.ChainID][e.Seq] {
			if want != e.Hash {
				report(Problem{e.ChainID, e.Seq, "event differs from the exported copy (history rewritten)"})
				break
			}
		}
		// Checking goes on from this event as stored: the next one must
		// follow it and match its own content.
		res.Chains[e.ChainID] = ChainHead{Seq: e.Seq, Hash: e.Hash, Events: h.Events + 1}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("verify audit log: %w", err)
	}

	// The log must reach every signed checkpoint and exported event.
	type mark struct {
		seq  int64
		what string
	}
	reach := map[string]mark{}
	note := func(id string, seq int64, what string) {
		if seq > reach[id].seq {
			reach[id] = mark{seq, what}
		}
	}
	for id, bySeq := range cps {
		for seq := range bySeq {
			note(id, seq, "a signed checkpoint covers")
		}
	}
	for id, bySeq := range anchors {
		for seq := range bySeq {
			note(id, seq, "the exported copy holds")
		}
	}
	for _, id := range slices.Sorted(maps.Keys(reach)) {
		head, last := res.Chains[id], reach[id]
		if last.seq > head.Seq {
			report(Problem{id, head.Seq + 1, fmt.Sprintf(
				"log ends at seq %d but %s seq %d (tail cut off)", head.Seq, last.what, last.seq)})
		}
	}
	res.Unwitnessed = tc.finish(res.Chains)
	for _, t := range res.Unwitnessed {
		report(Problem{t.ChainID, t.Witnessed + 1, fmt.Sprintf(
			"seq %d to %d are in no checkpoint cosigned by %d witnesses (unwitnessed tail)", t.Witnessed+1, t.Head, opts.Tree.WitnessQuorum)})
	}
	res.OK = res.FirstBad == nil
	return res, nil
}

// checkEvent checks e against the head of its chain so far: its link (seq
// and prev_hash) and, separately, the event itself (hash and checkpoints),
// so an edit right after a deletion is reported too.
func checkEvent(e Event, head ChainHead, cps []Checkpoint) []Problem {
	var out []Problem
	bad := func(seq int64, reason string) { out = append(out, Problem{e.ChainID, seq, reason}) }
	want := head.Seq + 1
	switch {
	case e.Seq > want:
		bad(want, fmt.Sprintf("event missing (deleted): next stored event is seq %d", e.Seq))
	case e.Seq < want:
		bad(e.Seq, "event out of order")
	case e.PrevHash != head.Hash:
		bad(e.Seq, "prev_hash does not match the event before (events inserted, deleted or reordered)")
	}
	h, err := ComputeHash(e)
	switch {
	case err != nil:
		bad(e.Seq, err.Error())
	case h != e.Hash:
		bad(e.Seq, "hash does not match the event's content (event edited)")
	}
	for _, c := range cps {
		if c.Hash != e.Hash {
			bad(e.Seq, "event differs from a signed checkpoint (history rewritten)")
			break
		}
	}
	return out
}
