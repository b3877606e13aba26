package audit

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"
)

// MinHMACKeyBytes is the shortest key ContentHMAC accepts.
const MinHMACKeyBytes = 16

// HMACKeySource says where the content key lives: the environment variable
// Env when it is set, else File.
type HMACKeySource struct {
	Env  string // the variable's name (audit.hmac_key_env)
	File string // audit.hmac_key_file; may be empty
}

// Load returns the key. The server passes create, making File with a new
// random key on first start; readers (`gatehouse audit hash`) do not, as a
// new key would match nothing. Either way a key shorter than
// MinHMACKeyBytes is refused, so the CLI hashes only with a key the server
// would accept.
func (s HMACKeySource) Load(getenv func(string) string, create bool) ([]byte, error) {
	if v := getenv(s.Env); v != "" {
		if len(v) < MinHMACKeyBytes {
			return nil, fmt.Errorf("audit: $%s must hold at least %d bytes", s.Env, MinHMACKeyBytes)
		}
		return []byte(v), nil
	}
	if s.File == "" {
		return nil, fmt.Errorf("audit.content is hmac: no key: set $%s (audit.hmac_key_env) or audit.hmac_key_file", s.Env)
	}
	b, err := os.ReadFile(s.File)
	switch {
	case err == nil:
		k := strings.TrimSpace(string(b))
		if len(k) < MinHMACKeyBytes {
			return nil, fmt.Errorf("audit.hmac_key_file %s: the key must hold at least %d bytes", s.File, MinHMACKeyBytes)
		}
		return []byte(k), nil
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("audit.hmac_key_file: %w", err)
	case !create:
		return nil, fmt.Errorf("audit.hmac_key_file %s: no such file: set $%s, or give the config or data dir the server uses", s.File, s.Env)
	}
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	enc := fmt.Sprintf("%x", k)
	if err := os.WriteFile(s.File, []byte(enc+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("audit.hmac_key_file: %w", err)
	}
	return []byte(enc), nil
}
