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
