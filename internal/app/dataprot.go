package app

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse/internal/config"
	"github.com/gatehousehq/gatehouse/internal/dlp"
)

// buildData makes the data protection of cfg: nil when disabled, or when
// only checking a config (no vault; its detectors were tested by Validate).
func buildData(cfg *config.Config, w wiring) (*dlp.Protector, error) {
	dc := cfg.DataProtection
	if dc.Disabled || w.checkOnly || w.vault == nil {
		return nil, nil
	}
	s, err := w.secretRules()
	if err != nil {
		return nil, fmt.Errorf("data_protection: %w", err)
	}
	ds := append(dlp.Builtin(), s)
	for _, name := range sortedNames(dc.Detectors) {
		d := dc.Detectors[name]
		cd, err := dlp.Custom(name, d.Pattern, d.Check, d.Examples)
		if err != nil {
			return nil, fmt.Errorf("data_protection.detectors.%s: %w", name, err)
		}
		ds = append(ds, cd)
	}
	key, err := vaultKey(dc, w)
	if err != nil {
		return nil, err
	}
	actions := map[string]dlp.Action{}
	for typ, a := range dc.Actions {
		actions[typ] = dlp.Action(a)
		if key == nil && a == string(dlp.Tokenize) {
			// Without a key a token could not be opened after a restart or
			// on another replica: the value is redacted instead.
			actions[typ] = dlp.Redact
		}
	}
	if key == nil {
		w.log.Warn("data_protection has no vault key: set $" + dc.KeyEnv + " or data_protection.key_file; tokenize acts as redact")
		key = make([]byte, 32) // keys only finding hashes and names no token: nothing is tokenized
	}
	return dlp.New(dlp.Config{Detectors: ds, Actions: actions, Reveal: dc.Reveal, Key: key, Vault: w.vault,
		TTL: dc.TTL, MaxTokens: dc.MaxTokens, Now: time.Now})
}

// vaultKey is the vault key from data_protection.key_env, else key_file
// (made on first start), as 32 bytes; nil when neither is set.
func vaultKey(dc config.DataProtection, w wiring) ([]byte, error) {
	if w.getenv(dc.KeyEnv) == "" && dc.KeyFile == "" {
		return nil, nil
	}
	k := w.getenv(dc.KeyEnv)
	if k == "" {
		b, err := os.ReadFile(dc.KeyFile)
		if errors.Is(err, os.ErrNotExist) {
			b = fmt.Appendf(nil, "%x\n", randomKey())
			err = os.WriteFile(dc.KeyFile, b, 0o600)
		}
		if err != nil {
			return nil, fmt.Errorf("data_protection.key_file: %w", err)
		}
		k = strings.TrimSpace(string(b))
	}
	if len(k) < 16 {
		return nil, fmt.Errorf("data_protection: the vault key must hold at least 16 bytes")
	}
	sum := sha256.Sum256([]byte(k))
	return sum[:], nil
}

func randomKey() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k) // never fails (crypto/rand)
	return k
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
