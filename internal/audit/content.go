package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"maps"
	"sync"
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
	return newContentMAC(key).hash(value)
}

// contentMAC is an HMAC for ContentHMAC values with room for its sum:
// making an HMAC costs several allocations, so the log reuses them.
type contentMAC struct {
	mac hash.Hash
	sum []byte
}

func newContentMAC(key []byte) *contentMAC {
	return &contentMAC{mac: hmac.New(sha256.New, key), sum: make([]byte, 0, sha256.Size)}
}

// hash is HashValue under the MAC's key.
func (m *contentMAC) hash(value string) string {
	m.mac.Reset()
	io.WriteString(m.mac, value)
	m.sum = m.mac.Sum(m.sum[:0])
	var b [len(HMACPrefix) + 2*sha256.Size]byte
	copy(b[:], HMACPrefix)
	hex.Encode(b[len(HMACPrefix):], m.sum)
	return string(b[:])
}

// contentMACs hands out contentMACs of one key to the callers' goroutines
// (prepare runs on each of them).
type contentMACs struct {
	key  []byte
	pool sync.Pool
}

func (p *contentMACs) get() *contentMAC {
	if m, ok := p.pool.Get().(*contentMAC); ok {
		return m
	}
	return newContentMAC(p.key)
}

func (p *contentMACs) put(m *contentMAC) { p.pool.Put(m) }

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

// transform returns the content as stored in mode m, in a map of its own:
// it never modifies c, as the caller's event may still be in use.
func (m ContentMode) transform(macs *contentMACs, c map[string]string) map[string]string {
	if len(c) == 0 {
		return nil
	}
	switch m {
	case ContentFull:
		return maps.Clone(c)
	case ContentHMAC:
		out := make(map[string]string, len(c))
		mac := macs.get()
		defer macs.put(mac)
		for k, v := range c {
			out[k] = mac.hash(v)
		}
		return out
	default:
		return nil
	}
}
