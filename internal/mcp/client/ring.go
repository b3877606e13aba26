package client

import "sync"

// Ring keeps the last n bytes written to it: a stdio server's stderr,
// bounded however much the server writes.
type Ring struct {
	mu      sync.Mutex
	buf     []byte
	n       int
	dropped int64
}

// NewRing returns a Ring keeping n bytes.
func NewRing(n int) *Ring { return &Ring{n: n} }

// Write keeps the tail of p; it never fails, so a flooding server never
// blocks on its stderr pipe.
func (r *Ring) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf = append(r.buf, p...)
	if over := len(r.buf) - r.n; over > 0 {
		r.dropped += int64(over)
		r.buf = append(r.buf[:0], r.buf[over:]...)
	}
	return len(p), nil
}

// String returns the kept bytes.
func (r *Ring) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(r.buf)
}

// Len returns how many bytes are kept.
func (r *Ring) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.buf)
}
