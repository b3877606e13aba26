package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/config"
	"github.com/gatehousehq/gatehouse/internal/store"
)

const auditUsage = `Usage:
  gatehouse audit verify [--checkpoint FILE] [--public-key FILE]
                                                check every chain; exit 0 and "ok: N events, head <hash>"
  gatehouse audit public-key                    print the checkpoint public key (PEM) for --public-key
  gatehouse audit tail [--follow] [--json] [-n N]
  gatehouse audit export [--since RFC3339]      JSON lines: events, then checkpoints
  gatehouse audit hash VALUE                    the hmac-mode value to search the log for
  gatehouse audit note-key                      print the log's note verifier key (for --key)
  gatehouse audit receipt EVENT_ID [--witness-quorum N]
                                                an event's inclusion proof with a (cosigned) checkpoint, JSON
  gatehouse audit verify-receipt FILE --key VKEY [--witness-key VKEY]... [--witness-quorum N]
                                                check a receipt offline (no log needed)

verify also takes --witness-quorum N (N witness cosignatures must cover every event),
--receipt FILE (a receipt's checkpoint must still match), --note-key VKEY, --witness-key VKEY.

The log is found by --config FILE (or $GATEHOUSE_CONFIG), --dsn DSN, or --data-dir DIR
(a dev data dir: DIR/audit.db, DIR/audit-checkpoint.key, DIR/audit-hmac.key).
`

// auditTarget is where the audit commands find the log and its keys.
type auditTarget struct {
	dsn             string
	checkpointKey   string // path; may not exist unless keyRequired
	keyRequired     bool   // named by the config: checkpoints must be checked against it
	publicKey       string // path of the verification key (audit.checkpoint_public_key_file)
	hmacEnv         string
	hmacKeyFile     string
	noteKeyFile     string   // audit.note_key_file
	noteKeyRequired bool     // named by the config: it must be there
	witnessKeys     []string // audit.witnesses' keys
	witnessQuorum   int
}

func runAudit(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stderr, auditUsage)
		return errUsage
	}
	cmd := args[0]
	fs := flag.NewFlagSet("gatehouse audit "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, auditUsage) }
	configPath := fs.String("config", "", "config file (default $GATEHOUSE_CONFIG)")
	dsn := fs.String("dsn", "", "audit log DSN: sqlite://PATH or postgres://...")
	dataDir := fs.String("data-dir", "", "dev data dir")
	checkpoint := fs.String("checkpoint", "", "verify: a checkpoint (or export) file kept elsewhere")
	publicKey := fs.String("public-key", "", "verify: the only key checkpoints may be signed with (PEM, from audit public-key)")
	follow := fs.Bool("follow", false, "tail: keep printing new events")
	asJSON := fs.Bool("json", false, "tail: JSON lines")
	lines := fs.Int("n", 20, "tail: how many recent events")
	since := fs.String("since", "", "export: only events at or after this RFC 3339 time")
	tf := treeFlags{}
	fs.IntVar(&tf.quorum, "witness-quorum", -1, "verify, receipt: witness cosignatures required (default: audit.witness_quorum)")
	fs.StringVar(&tf.noteKey, "key", "", "verify-receipt: the log's note verifier key")
	fs.StringVar(&tf.noteKey, "note-key", "", "verify: the log's note verifier key (default: from audit.note_key_file)")
	fs.Var(&tf.witnessKeys, "witness-key", "a witness's note verifier key (repeatable; default: audit.witnesses)")
	fs.Var(&tf.receipts, "receipt", "verify: a receipt whose checkpoint the log must still match (repeatable)")
	if err := fs.Parse(interleaved(args[1:], fs)); err != nil {
		return errUsage
	}
	t, err := resolveAuditTarget(*configPath, *dsn, *dataDir, getenv)
	if err != nil {
		return err
	}
	if *publicKey != "" {
		t.publicKey = *publicKey
	}
	switch cmd {
	case "hash":
		if fs.NArg() != 1 {
			fmt.Fprint(stderr, auditUsage)
			return errUsage
		}
		key, err := t.hmacKey(getenv)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, audit.HashValue(key, fs.Arg(0)))
		return nil
	case "public-key":
		if t.checkpointKey == "" {
			return errors.New("audit public-key: no checkpoint key: use --config FILE or --data-dir DIR")
		}
		key, err := audit.LoadKey(t.checkpointKey)
		if err != nil {
			return fmt.Errorf("audit public-key: %w", err)
		}
		pem, err := audit.MarshalPublicKey(key.Public().(ed25519.PublicKey))
		if err != nil {
			return err
		}
		_, err = stdout.Write(pem)
		return err
	case "note-key":
		if t.noteKeyFile == "" {
			return errors.New("audit note-key: no note key: use --config FILE (audit.note_key_file) or --data-dir DIR")
		}
		k, err := audit.LoadNoteKey(t.noteKeyFile)
		if err != nil {
			return fmt.Errorf("audit note-key: %w", err)
		}
		fmt.Fprintln(stdout, k.Verifier)
		return nil
	case "verify-receipt":
		if fs.NArg() != 1 {
			fmt.Fprint(stderr, auditUsage)
			return errUsage
		}
		return auditVerifyReceipt(tf, fs.Arg(0), stdout)
	case "receipt":
		if fs.NArg() != 1 {
			fmt.Fprint(stderr, auditUsage)
			return errUsage
		}
	case "verify", "tail", "export":
	default:
		fmt.Fprintf(stderr, "unknown audit command %q\n\n%s", cmd, auditUsage)
		return errUsage
	}
	if t.dsn == "" {
		return errors.New("audit: no log given: use --config FILE, --dsn DSN or --data-dir DIR")
	}
	st, err := store.OpenAuditExisting(ctx, t.dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	switch cmd {
	case "verify":
		return auditVerify(ctx, st, t, tf, *checkpoint, stdout)
	case "receipt":
		return auditReceipt(ctx, st, t, tf, fs.Arg(0), stdout)
	case "tail":
		return audit.WriteTail(ctx, stdout, st, audit.TailOptions{Lines: *lines, Follow: *follow, JSON: *asJSON})
	default:
		var from time.Time
		if *since != "" {
			if from, err = audit.ParseTime(*since); err != nil {
				return fmt.Errorf("audit export: --since %w", err)
			}
		}
		return audit.Export(ctx, stdout, st, from)
	}
}

func resolveAuditTarget(configPath, dsn, dataDir string, getenv func(string) string) (auditTarget, error) {
	t := auditTarget{hmacEnv: "GATEHOUSE_AUDIT_HMAC_KEY"}
	switch {
	case dsn != "":
		t.dsn = dsn
		if dataDir != "" {
			t.checkpointKey = filepath.Join(dataDir, config.DevCheckpointKeyFile)
			t.hmacKeyFile = filepath.Join(dataDir, config.DevAuditHMACKeyFile)
			t.noteKeyFile = filepath.Join(dataDir, config.DevNoteKeyFile)
			t.keyRequired = true // dev mode makes it on first start
		}
	case dataDir != "":
		t.dsn = "sqlite://" + filepath.Join(dataDir, config.DevAuditDB)
		t.checkpointKey = filepath.Join(dataDir, config.DevCheckpointKeyFile)
		t.hmacKeyFile = filepath.Join(dataDir, config.DevAuditHMACKeyFile)
		t.noteKeyFile = filepath.Join(dataDir, config.DevNoteKeyFile)
		t.keyRequired = true
	default:
		if configPath == "" {
			configPath = getenv("GATEHOUSE_CONFIG")
		}
		if configPath == "" {
			return t, nil
		}
		a, err := config.LoadAudit(configPath, getenv)
		if err != nil {
			return t, err
		}
		t.dsn, t.checkpointKey, t.keyRequired = a.DSN, a.CheckpointKeyFile, a.CheckpointKeyFile != ""
		t.hmacEnv, t.hmacKeyFile = a.HMACKeyEnv, a.HMACKeyFile
		t.publicKey = a.CheckpointPublicKeyFile
		t.noteKeyFile, t.witnessQuorum = a.NoteKeyFile, a.WitnessQuorum
		t.noteKeyRequired = a.NoteKeyFile != ""
		for _, w := range a.Witnesses {
			t.witnessKeys = append(t.witnessKeys, w.Key)
		}
	}
	return t, nil
}

// hmacKey finds the key the server uses: the environment variable, else the
// key file (never created here: a new key would match nothing).
func (t auditTarget) hmacKey(getenv func(string) string) ([]byte, error) {
	key, err := audit.HMACKeySource{Env: t.hmacEnv, File: t.hmacKeyFile}.Load(getenv, false)
	if err != nil {
		return nil, fmt.Errorf("audit hash: %w", err)
	}
	return key, nil
}

func auditVerify(ctx context.Context, st audit.Store, t auditTarget, tf treeFlags, checkpointFile string, stdout io.Writer) error {
	var opts audit.VerifyOptions
	tree, err := tf.treeOptions(t)
	if err != nil {
		return err
	}
	opts.Tree = tree
	if t.publicKey != "" {
		// The verification key alone: whoever verifies need not hold the
		// signing key, and one that cannot be read is an error, never "no key".
		pub, err := audit.LoadPublicKey(t.publicKey)
		if err != nil {
			return fmt.Errorf("audit verify: %w", err)
		}
		opts.PublicKey = pub
	} else if t.checkpointKey != "" {
		key, err := audit.LoadKey(t.checkpointKey)
		switch {
		case err == nil:
			opts.PublicKey = key.Public().(ed25519.PublicKey)
		case !errors.Is(err, os.ErrNotExist):
			return err
		case t.keyRequired:
			// Without the key, any well-formed checkpoint would pass.
			return fmt.Errorf("audit verify: the checkpoint key %s is not there (audit.checkpoint_key_file, or the data dir's; a relative path is read from the working directory): %w", t.checkpointKey, err)
		}
	}
	if checkpointFile != "" {
		f, err := os.Open(checkpointFile)
		if err != nil {
			return fmt.Errorf("audit verify: %w", err)
		}
		cps, anchors, err := audit.ReadExport(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("audit verify %s: %w", checkpointFile, err)
		}
		opts.Checkpoints, opts.Anchors = cps, anchors
	}
	res, err := audit.Verify(ctx, st, opts)
	if err != nil {
		return err
	}
	if err := res.Err(); err != nil {
		if res.ProblemCount > 1 {
			for _, p := range res.Problems {
				fmt.Fprintf(stdout, "problem: %s\n", p)
			}
		}
		return err
	}
	switch len(res.Chains) {
	case 0:
		fmt.Fprintf(stdout, "ok: 0 events, head %s\n", audit.GenesisHash)
	case 1:
		for _, h := range res.Chains {
			fmt.Fprintf(stdout, "ok: %d events, head %s\n", res.Events, h.Hash)
		}
	default:
		fmt.Fprintf(stdout, "ok: %d events in %d chains\n", res.Events, len(res.Chains))
		for _, id := range sortedChains(res.Chains) {
			h := res.Chains[id]
			fmt.Fprintf(stdout, "chain %s: %d events, head %s\n", id, h.Events, h.Hash)
		}
	}
	return nil
}

func sortedChains(m map[string]audit.ChainHead) []string {
	return slices.Sorted(maps.Keys(m))
}
