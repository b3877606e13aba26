package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/gatehousehq/gatehouse/internal/audit"
)

// listFlag is a flag given any number of times.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// treeFlags are the flags of the Merkle tree's commands.
type treeFlags struct {
	quorum      int // -1: the config's audit.witness_quorum
	noteKey     string
	witnessKeys listFlag
	receipts    listFlag
}

// noteVerifier is the log's note verifier: --key/--note-key, else the
// config's note key file.
func (f treeFlags) noteVerifier(t auditTarget) (note.Verifier, error) {
	vkey := f.noteKey
	if vkey == "" && t.noteKeyFile != "" {
		k, err := audit.LoadNoteKey(t.noteKeyFile)
		switch {
		case errors.Is(err, os.ErrNotExist) && !t.noteKeyRequired:
			return nil, nil // a data dir from before note keys
		case err != nil:
			return nil, err
		}
		vkey = k.Verifier
	}
	if vkey == "" {
		return nil, nil
	}
	return audit.ParseVerifierKey(vkey)
}

// witnesses are --witness-key, else the config's audit.witnesses.
func (f treeFlags) witnesses(t auditTarget) ([]note.Verifier, error) {
	keys := []string(f.witnessKeys)
	if len(keys) == 0 {
		keys = t.witnessKeys
	}
	var out []note.Verifier
	for _, k := range keys {
		v, err := audit.ParseVerifierKey(k)
		if err != nil {
			return nil, fmt.Errorf("witness key %q: %w", k, err)
		}
		out = append(out, v)
	}
	return out, nil
}

func (f treeFlags) quorumOr(def int) int {
	if f.quorum >= 0 {
		return f.quorum
	}
	return def
}

// treeOptions are verify's Merkle tree checks.
func (f treeFlags) treeOptions(t auditTarget) (audit.TreeOptions, error) {
	var o audit.TreeOptions
	var err error
	if o.NoteKey, err = f.noteVerifier(t); err != nil {
		return o, fmt.Errorf("audit verify: %w", err)
	}
	if o.Witnesses, err = f.witnesses(t); err != nil {
		return o, fmt.Errorf("audit verify: %w", err)
	}
	o.WitnessQuorum = f.quorumOr(0)
	if o.WitnessQuorum > 0 && o.NoteKey == nil {
		return o, errors.New("audit verify: --witness-quorum needs the log's note key (--note-key VKEY or audit.note_key_file)")
	}
	for _, path := range f.receipts {
		r, err := readReceipt(path)
		if err != nil {
			return o, fmt.Errorf("audit verify: %w", err)
		}
		o.Notes = append(o.Notes, []byte(r.Checkpoint))
	}
	return o, nil
}

// auditReceipt writes an event's receipt: its inclusion proof in the latest
// checkpoint covering it with the quorum's cosignatures.
func auditReceipt(ctx context.Context, st audit.Store, t auditTarget, f treeFlags, id string, stdout io.Writer) error {
	eid, err := audit.ParseEventID(id)
	if err != nil {
		return fmt.Errorf("audit receipt: %w", err)
	}
	ts, ok := st.(audit.TreeStore)
	if !ok {
		return errors.New("audit receipt: this store keeps no Merkle tree")
	}
	r, err := audit.Prove(ctx, ts, eid, f.quorumOr(t.witnessQuorum))
	if err != nil {
		return fmt.Errorf("audit receipt: %w", err)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// auditVerifyReceipt checks a receipt offline against the note keys.
func auditVerifyReceipt(f treeFlags, path string, stdout io.Writer) error {
	if f.noteKey == "" {
		return errors.New("audit verify-receipt: --key VKEY (the log's note verifier key, from audit note-key) is required")
	}
	logKey, err := audit.ParseVerifierKey(f.noteKey)
	if err != nil {
		return fmt.Errorf("audit verify-receipt: --key: %w", err)
	}
	ws, err := f.witnesses(auditTarget{})
	if err != nil {
		return fmt.Errorf("audit verify-receipt: %w", err)
	}
	r, err := readReceipt(path)
	if err != nil {
		return fmt.Errorf("audit verify-receipt: %w", err)
	}
	cp, err := audit.VerifyReceipt(r, logKey, ws, f.quorumOr(len(ws)))
	if err != nil {
		return fmt.Errorf("audit verify-receipt %s: %w", path, err)
	}
	fmt.Fprintf(stdout, "ok: event %s is in %s at size %d, root %x, cosigned by %d witnesses\n",
		r.EventID, audit.Origin(cp.ChainID), cp.Size, cp.Root[:], len(cp.Cosignatures))
	return nil
}

func readReceipt(path string) (audit.Receipt, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return audit.Receipt{}, err
	}
	var r audit.Receipt
	if err := json.Unmarshal(data, &r); err != nil {
		return audit.Receipt{}, fmt.Errorf("read receipt %s: %w", path, err)
	}
	return r, nil
}

// interleaved moves positional arguments after the flags, so
// "verify-receipt FILE --key VKEY" parses as documented ("--" ends flags).
func interleaved(args []string, fs *flag.FlagSet) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if f := fs.Lookup(name); f != nil && !isBoolFlag(f) && i+1 < len(args) {
			flags = append(flags, args[i+1])
			i++
		}
	}
	return append(append(flags, "--"), pos...)
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}
