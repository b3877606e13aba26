package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"maps"
)

// ContentMode says how Event.Content is stored (config audit.content).
type ContentMode string

// Content modes.
const (
	// ContentFull stores contents as given.
	ContentFull ContentMode = "full"
	// ContentHMAC stores HashValue(key, value) for every value, so equal
	// values can be matched without being revealed.
	ContentHMAC ContentMode = "hmac"
	// ContentNone drops contents.
	ContentNone ContentMode = "none"
)

// HMACPrefix starts every value stored in ContentHMAC mode.
const HMACPrefix = "hmac-sha256:"

// HashValue returns what ContentHMAC stores for value: "hmac-sha256:" and the
// hex HMAC-SHA256 of value under key. `gatehouse audit hash VALUE` prints it,
// so an operator can search the log for a known value.
func HashValue(key []byte, value string) string {
	return hashValue(hmac.New(sha256.New, key), value)
}

// hashValue is HashValue with the HMAC given (reset here), so one event's
// values share one: an HMAC costs several allocations to make.
func hashValue(m hash.Hash, value string) string {
	m.Reset()
	io.WriteString(m, value)
	var sum [sha256.Size]byte
	b := make([]byte, len(HMACPrefix)+hex.EncodedLen(sha256.Size))
	copy(b, HMACPrefix)
	hex.Encode(b[len(HMACPrefix):], m.Sum(sum[:0]))
	return string(b)
}

func (m ContentMode) validate(key []byte) error {
	switch m {
	case ContentFull, ContentNone:
		return nil
	case ContentHMAC:
		if len(key) < MinHMACKeyBytes {
			return fmt.Errorf("audit content mode hmac needs a key of at least %d bytes, got %d", MinHMACKeyBytes, len(key))
		}
		return nil
	default:
		return fmt.Errorf("unknown audit content mode %q (want full, hmac or none)", m)
	}
}

// transform returns the content as stored in mode m. It never modifies c:
// the caller's event may still be in use.
func (m ContentMode) transform(key []byte, c map[string]string) map[string]string {
	if len(c) == 0 {
		return nil
	}
	switch m {
	case ContentFull:
		return maps.Clone(c)
	case ContentHMAC:
		out := make(map[string]string, len(c))
		mac := hmac.New(sha256.New, key)
		for k, v := range c {
			out[k] = hashValue(mac, v)
		}
		return out
	default:
		return nil
	}
}
