package audit

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// ParseVerifierKey reads a note verifier key: an Ed25519 signer's
// (algorithm 0x01, the log's note key) or a witness's C2SP
// tlog-cosignature key (algorithm 0x04, cosignature/v1).
func ParseVerifierKey(vkey string) (note.Verifier, error) {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return nil, errors.New("malformed verifier key")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) == 0 {
		return nil, errors.New("malformed verifier key")
	}
	if raw[0] != 0x04 {
		v, err := note.NewVerifier(vkey)
		if err != nil {
			return nil, fmt.Errorf("verifier key: %w", err)
		}
		return v, nil
	}
	if len(raw) != 1+ed25519.PublicKeySize {
		return nil, errors.New("malformed cosignature verifier key")
	}
	h, err := strconv.ParseUint(parts[1], 16, 32)
	if err != nil || len(parts[1]) != 8 {
		return nil, errors.New("malformed verifier key hash")
	}
	sum := sha256.Sum256(append([]byte(parts[0]+"\n"), raw...))
	if uint32(h) != binary.BigEndian.Uint32(sum[:4]) {
		return nil, errors.New("verifier key hash does not match the key")
	}
	return cosigVerifier{name: parts[0], hash: uint32(h), key: raw[1:]}, nil
}

// cosigVerifier checks C2SP tlog-cosignature cosignature/v1 signatures:
// an 8-byte timestamp and an Ed25519 signature over
// "cosignature/v1\ntime T\n" followed by the checkpoint.
type cosigVerifier struct {
	name string
	hash uint32
	key  ed25519.PublicKey
}

func (v cosigVerifier) Name() string    { return v.name }
func (v cosigVerifier) KeyHash() uint32 { return v.hash }
func (v cosigVerifier) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig)
	m := append([]byte("cosignature/v1\ntime "+strconv.FormatUint(t, 10)+"\n"), msg...)
	return ed25519.Verify(v.key, m, sig[8:])
}

// VerifyReceipt checks a receipt offline: the checkpoint is signed by the
// log's key and cosigned by at least quorum of witnesses, the event's
// content gives its hash, and the inclusion proof leads from that hash
// to the checkpoint's root.
func VerifyReceipt(r Receipt, logKey note.Verifier, witnesses []note.Verifier, quorum int) (NoteCheckpoint, error) {
	cp, err := OpenNote([]byte(r.Checkpoint), logKey, witnesses)
	if err != nil {
		return cp, err
	}
	if got := distinctWitnesses(cp, witnesses); got < quorum {
		return cp, fmt.Errorf("checkpoint has %d valid witness cosignatures, %d required", got, quorum)
	}
	e := r.Event
	if cp.ChainID != e.ChainID || cp.Size != r.TreeSize || r.LeafIndex != e.Seq-1 || r.EventID != (EventID{e.ChainID, e.Seq}).String() {
		return cp, errors.New("receipt's event, leaf index and checkpoint do not match")
	}
	h, err := ComputeHash(e)
	if err != nil || h != e.Hash {
		return cp, errors.New("the event's content does not give its hash (event edited)")
	}
	leaf, err := LeafHash(e.Hash)
	if err != nil {
		return cp, err
	}
	if err := tlog.CheckRecord(r.Inclusion, cp.Size, cp.Root, r.LeafIndex, leaf); err != nil {
		return cp, fmt.Errorf("inclusion proof does not lead to the checkpoint's root: %w", err)
	}
	return cp, nil
}

// distinctWitnesses counts cp's cosignatures by keys among witnesses (OpenNote
// kept only lines those keys verified).
func distinctWitnesses(cp NoteCheckpoint, witnesses []note.Verifier) int {
	seen := map[string]bool{}
	for _, c := range cp.Cosignatures {
		for _, w := range witnesses {
			if c.Witness == w.Name() {
				seen[w.Name()+"+"+hex.EncodeToString(binary.BigEndian.AppendUint32(nil, w.KeyHash()))] = true
			}
		}
	}
	return len(seen)
}
