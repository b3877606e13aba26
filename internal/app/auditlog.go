package app

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/config"
	"github.com/gatehousehq/gatehouse/internal/store"
)

// openAudit opens the store and the log, and returns the key checkpoints
// are verified with (see checkpointPublicKey) and the witnessing (nil:
// no witnesses); the returned func closes them.
func openAudit(ctx context.Context, cfg *config.Config, getenv func(string) string, log *slog.Logger, noTree bool) (*audit.Log, audit.Store, ed25519.PublicKey, *audit.Witnessing, func(), error) {
	st, err := store.OpenAudit(ctx, cfg.Audit.DSN)
	if err != nil {
		return nil, nil, nil, nil, nil, fmt.Errorf("open audit log: %w", err)
	}
	ac := audit.Config{
		Store: st, ChainID: chainID(cfg), ContentMode: audit.ContentMode(cfg.Audit.Content), CommitTimeout: cfg.Audit.CommitTimeout,
		CheckpointEvery: cfg.Audit.CheckpointEvery, CheckpointInterval: cfg.Audit.CheckpointInterval, Logger: log,
		NoTree: noTree,
	}
	if cfg.Audit.Content == "hmac" {
		key, err := hmacKey(cfg, getenv)
		if err != nil {
			st.Close()
			return nil, nil, nil, nil, nil, err
		}
		ac.HMACKey = key
	}
	if cfg.Audit.CheckpointKeyFile != "" {
		k, err := audit.LoadOrCreateKey(cfg.Audit.CheckpointKeyFile)
		if err != nil {
			st.Close()
			return nil, nil, nil, nil, nil, fmt.Errorf("audit.checkpoint_key_file: %w", err)
		}
		ac.CheckpointKey = k
	}
	var noteKey audit.NoteKey
	if cfg.Audit.NoteKeyFile != "" {
		k, err := audit.LoadOrCreateNoteKey(cfg.Audit.NoteKeyFile, audit.NoteKeyName)
		if err != nil {
			st.Close()
			return nil, nil, nil, nil, nil, fmt.Errorf("audit.note_key_file: %w", err)
		}
		ac.NoteKey = k
		noteKey = k
	}
	// Chains written before the tree get theirs now (the log's own chain
	// would be built by its writer too, within a commit's time bound).
	if ts, ok := st.(audit.TreeStore); ok {
		if err := audit.BuildTrees(ctx, ts); err != nil {
			st.Close()
			return nil, nil, nil, nil, nil, fmt.Errorf("open audit log: %w", err)
		}
	}
	pub, err := checkpointPublicKey(cfg, ac.CheckpointKey)
	if err != nil {
		st.Close()
		return nil, nil, nil, nil, nil, err
	}
	var wit atomic.Pointer[audit.Witnessing]
	ac.OnNote = func(n audit.NoteCheckpoint) {
		if w := wit.Load(); w != nil {
			w.Notify(n)
		}
	}
	l, err := audit.New(ac)
	if err != nil {
		st.Close()
		return nil, nil, nil, nil, nil, fmt.Errorf("open audit log: %w", err)
	}
	w, err := openWitnessing(cfg, st, noteKey, l.ChainID(), log)
	if err != nil {
		l.Close()
		st.Close()
		return nil, nil, nil, nil, nil, err
	}
	wit.Store(w)
	return l, st, pub, w, func() {
		if w != nil {
			w.Close()
		}
		l.Close()
		st.Close()
	}, nil
}

// openWitnessing starts sending the chain's checkpoints to
// audit.witnesses; nil when there are none.
func openWitnessing(cfg *config.Config, st audit.Store, key audit.NoteKey, chain string, log *slog.Logger) (*audit.Witnessing, error) {
	if len(cfg.Audit.Witnesses) == 0 {
		return nil, nil
	}
	ts, ok := st.(audit.TreeStore)
	if !ok || key.Signer == nil {
		return nil, errors.New("audit.witnesses: need audit.note_key_file and a store that keeps the tree")
	}
	logKey, err := audit.ParseVerifierKey(key.Verifier)
	if err != nil {
		return nil, fmt.Errorf("audit.note_key_file: %w", err)
	}
	wc := audit.WitnessConfig{Store: ts, ChainID: chain, LogKey: logKey, Quorum: cfg.Audit.WitnessQuorum, Logger: log}
	for i, x := range cfg.Audit.Witnesses {
		v, err := audit.ParseVerifierKey(x.Key)
		if err != nil {
			return nil, fmt.Errorf("audit.witnesses[%d].key: %w", i, err)
		}
		wc.Witnesses = append(wc.Witnesses, audit.Witness{URL: x.URL, Verifier: v})
	}
	return audit.NewWitnessing(wc)
}

// hmacKey returns the audit HMAC key: from the environment variable named by
// audit.hmac_key_env, else from audit.hmac_key_file (made on first use).
func hmacKey(cfg *config.Config, getenv func(string) string) ([]byte, error) {
	return audit.HMACKeySource{Env: cfg.Audit.HMACKeyEnv, File: cfg.Audit.HMACKeyFile}.Load(getenv, true)
}

// chainID is audit.chain_id, else "main" for SQLite — one process owns the
// file, so its chain continues across restarts — and a random id per process
// for PostgreSQL, where several replicas write one log.
func chainID(cfg *config.Config) string {
	if cfg.Audit.ChainID != "" {
		return cfg.Audit.ChainID
	}
	if strings.HasPrefix(cfg.Audit.DSN, "sqlite://") {
		return "main"
	}
	return ""
}

// checkpointPublicKey is the only key /admin/audit/verify accepts
// checkpoints from: audit.checkpoint_public_key_file, else the public half of
// the signing key the log was opened with (read once, by openAudit); nil when
// neither is configured. A configured key that cannot be read is an error:
// verifying without it would take checkpoints signed by anyone.
func checkpointPublicKey(cfg *config.Config, signing ed25519.PrivateKey) (ed25519.PublicKey, error) {
	var pub ed25519.PublicKey
	if signing != nil {
		pub = signing.Public().(ed25519.PublicKey)
	}
	if f := cfg.Audit.CheckpointPublicKeyFile; f != "" {
		k, err := audit.LoadPublicKey(f)
		if err != nil {
			return nil, fmt.Errorf("audit.checkpoint_public_key_file: %w", err)
		}
		if pub != nil && !pub.Equal(k) {
			return nil, errors.New("audit.checkpoint_public_key_file is not the public half of audit.checkpoint_key_file")
		}
		pub = k
	}
	if pub == nil && cfg.Audit.CheckpointKeyFile != "" {
		return nil, errors.New("audit.checkpoint_key_file is set but no key was loaded")
	}
	return pub, nil
}
