// Package ids makes and recognizes gatehouse's identifiers (request, run,
// session, tool call): a prefix and 128 random bits in hex.
package ids

import (
	"crypto/rand"
	"encoding/hex"
)

// New returns prefix followed by 32 hex digits of crypto/rand.
func New(prefix string) string {
	b := make([]byte, 16) // 128 bits
	_, _ = rand.Read(b)   // crypto/rand never fails on supported platforms
	return prefix + hex.EncodeToString(b)
}

// Valid reports whether id has the shape New(prefix) gives: prefix and 32
// lowercase hex digits. A caller's id is checked before any lookup or
// record, so a malformed one (of any size) reaches neither a store nor the
// audit log.
func Valid(prefix, id string) bool {
	if len(id) != len(prefix)+32 || id[:len(prefix)] != prefix {
		return false
	}
	for _, c := range []byte(id[len(prefix):]) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
