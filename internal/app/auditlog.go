package app

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"strings"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/config"
	"github.com/gatehousehq/gatehouse/internal/store"
)

// openAudit opens the store and the log; the returned func closes both.
func openAudit(ctx context.Context, cfg *config.Config, getenv func(string) string, log *slog.Logger) (*audit.Log, audit.Store, func(), error) {
	st, err := store.OpenAudit(ctx, cfg.Audit.DSN)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("open audit log: %w", err)
	}
	ac := audit.Config{
		Store: st, ChainID: chainID(cfg), ContentMode: audit.ContentMode(cfg.Audit.Content), CommitTimeout: cfg.Audit.CommitTimeout,
		CheckpointEvery: cfg.Audit.CheckpointEvery, CheckpointInterval: cfg.Audit.CheckpointInterval, Logger: log,
	}
	if cfg.Audit.Content == "hmac" {
		key, err := hmacKey(cfg, getenv)
		if err != nil {
			st.Close()
			return nil, nil, nil, err
		}
		ac.HMACKey = key
	}
	if cfg.Audit.CheckpointKeyFile != "" {
		k, err := audit.LoadOrCreateKey(cfg.Audit.CheckpointKeyFile)
		if err != nil {
			st.Close()
			return nil, nil, nil, fmt.Errorf("audit.checkpoint_key_file: %w", err)
		}
		ac.CheckpointKey = k
	}
	l, err := audit.New(ac)
	if err != nil {
		st.Close()
		return nil, nil, nil, fmt.Errorf("open audit log: %w", err)
	}
	return l, st, func() { l.Close(); st.Close() }, nil
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

// checkpointPublicKey is the public half of the checkpoint key, the only key
// /admin/audit/verify accepts checkpoints from; nil when there is none.
func checkpointPublicKey(cfg *config.Config) ed25519.PublicKey {
	if cfg.Audit.CheckpointKeyFile == "" {
		return nil
	}
	k, err := audit.LoadKey(cfg.Audit.CheckpointKeyFile)
	if err != nil {
		return nil
	}
	return k.Public().(ed25519.PublicKey)
}
