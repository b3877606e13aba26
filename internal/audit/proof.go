package audit

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
)

// ErrNoEvent means the event asked for is not in the log.
var ErrNoEvent = errors.New("no such audit event")

// ErrNotCheckpointed means no checkpoint (with the cosignatures asked for)
// covers the event yet: the next one will.
var ErrNotCheckpointed = errors.New("no checkpoint covers the event yet")

// treeReader reads a chain's stored tree for tlog.
func treeReader(ctx context.Context, s TreeStore, chainID string) tlog.HashReader {
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		return s.TreeHashes(ctx, chainID, idx)
	})
}

// ConsistencyProof proves that chainID's tree at size old is a prefix of
// the tree at size new (RFC 6962 consistency proof).
func ConsistencyProof(ctx context.Context, s TreeStore, chainID string, old, new int64) (tlog.TreeProof, error) {
	if old == 0 || old == new {
		return tlog.TreeProof{}, nil
	}
	p, err := tlog.ProveTree(new, old, treeReader(ctx, s, chainID))
	if err != nil {
		return nil, fmt.Errorf("consistency proof %d→%d of chain %s: %w", old, new, chainID, err)
	}
	return p, nil
}

// Receipt is an event's proof of inclusion in a checkpoint of its chain:
// with the log's note key (and witnesses' keys) anyone can check it
// offline (VerifyReceipt), without access to the log.
type Receipt struct {
	EventID string `json:"event_id"`
	// Event is the event as stored; its hash is the tree's leaf.
	Event Event `json:"event"`
	// LeafIndex is Seq-1; TreeSize the checkpoint's size.
	LeafIndex int64 `json:"leaf_index"`
	TreeSize  int64 `json:"tree_size"`
	// Inclusion is the RFC 6962 audit path, each hash base64.
	Inclusion []tlog.Hash `json:"inclusion"`
	// Checkpoint is the signed note with every cosignature stored.
	Checkpoint string `json:"checkpoint"`
	// Witnessed counts the checkpoint's cosignatures as stored (not
	// checked here: VerifyReceipt checks them against given keys).
	Witnessed int `json:"witnessed"`
}

// Prove returns a receipt for event id against the latest checkpoint of
// its chain that covers it and carries at least minCosigs cosignatures.
func Prove(ctx context.Context, s TreeStore, id EventID, minCosigs int) (Receipt, error) {
	e, err := eventAt(ctx, s, id)
	if err != nil {
		return Receipt{}, err
	}
	notes, err := s.Notes(ctx, id.ChainID)
	if err != nil {
		return Receipt{}, fmt.Errorf("prove %s: %w", id, err)
	}
	var cp *NoteCheckpoint
	for i := len(notes) - 1; i >= 0; i-- {
		if notes[i].Size >= id.Seq && len(notes[i].Cosignatures) >= minCosigs {
			cp = &notes[i]
			break
		}
	}
	if cp == nil {
		return Receipt{}, fmt.Errorf("prove %s: %w (with %d cosignatures)", id, ErrNotCheckpointed, minCosigs)
	}
	p, err := tlog.ProveRecord(cp.Size, id.Seq-1, treeReader(ctx, s, id.ChainID))
	if err != nil {
		return Receipt{}, fmt.Errorf("prove %s in size %d: %w", id, cp.Size, err)
	}
	return Receipt{EventID: id.String(), Event: e, LeafIndex: id.Seq - 1, TreeSize: cp.Size,
		Inclusion: p, Checkpoint: string(cp.Signed()), Witnessed: len(cp.Cosignatures)}, nil
}

// eventAt reads one stored event by id.
func eventAt(ctx context.Context, s TreeStore, id EventID) (Event, error) {
	e, ok, err := s.EventAt(ctx, id.ChainID, id.Seq)
	if err != nil {
		return Event{}, fmt.Errorf("read event %s: %w", id, err)
	}
	if !ok {
		return Event{}, fmt.Errorf("%w: %s", ErrNoEvent, id)
	}
	return e, nil
}
