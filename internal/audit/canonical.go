package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"
)

// GenesisHash is the prev_hash of the first event of every chain.
var GenesisHash = strings.Repeat("0", 64)

// canonicalVersion names the canonical encoding below. It is part of every
// encoding so a future change of format cannot be confused with tampering.
const canonicalVersion = 1

// canonicalEvent fixes the field order of the canonical encoding. It lists
// every Event field except Hash (which is computed over it); a test fails when
// Event gains a field that is missing here, because such a field would not
// be protected by the chain.
type canonicalEvent struct {
	V        int    `json:"v"`
	ChainID  string `json:"chain_id"`
	Seq      int64  `json:"seq"`
	Time     string `json:"time"`
	PrevHash string `json:"prev_hash"`

	RequestID string `json:"request_id,omitempty"`
	RunID     string `json:"run_id,omitempty"`
	SessionID string `json:"session_id,omitempty"`
	Type      string `json:"type"`

	Subject    string   `json:"subject,omitempty"`
	AuthMethod string   `json:"auth_method,omitempty"`
	Issuer     string   `json:"issuer,omitempty"`
	Roles      []string `json:"roles,omitempty"`

	Decision string `json:"decision,omitempty"`
	Rule     string `json:"rule,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Resource string `json:"resource,omitempty"`

	Content map[string]string `json:"content,omitempty"`

	Outcome   string `json:"outcome,omitempty"`
	LatencyMS int64  `json:"latency_ms,omitempty"`
	Model     string `json:"model,omitempty"`
	Usage     *Usage `json:"usage,omitempty"`
	Count     int64  `json:"count,omitempty"`
	// TraceID came after the format was fixed: omitted when empty, so an
	// event without one encodes, and hashes, exactly as before.
	TraceID string `json:"trace_id,omitempty"`
	// Scopes came later still: omitted when empty, as TraceID.
	Scopes []string `json:"scopes,omitempty"`
	// Actor came later still, under the same rule.
	Actor []Actor `json:"actor,omitempty"`
}

// EncodeCanonical returns the canonical encoding of e, the bytes its hash is
// computed over: a compact JSON object (encoding/json rules, including its
// HTML-safe escaping and its replacement of invalid UTF-8) with the fields in
// the fixed order of canonicalEvent, "v" first, empty optional fields left out,
// content keys sorted, and the time in UTC as RFC 3339 with nanoseconds and no
// trailing zeros. Hash is not part of it.
func EncodeCanonical(e Event) ([]byte, error) {
	var c canonicalEvent
	c.set(e, e.Time.UTC().Format(time.RFC3339Nano))
	return c.marshal()
}

// set fills c from e, with the time already formatted.
func (c *canonicalEvent) set(e Event, t string) {
	*c = canonicalEvent{
		V:          canonicalVersion,
		ChainID:    e.ChainID,
		Seq:        e.Seq,
		Time:       t,
		PrevHash:   e.PrevHash,
		RequestID:  e.RequestID,
		RunID:      e.RunID,
		SessionID:  e.SessionID,
		Type:       e.Type,
		Subject:    e.Subject,
		AuthMethod: e.AuthMethod,
		Issuer:     e.Issuer,
		Roles:      e.Roles,
		Decision:   e.Decision,
		Rule:       e.Rule,
		Reason:     e.Reason,
		Resource:   e.Resource,
		Content:    e.Content,
		Outcome:    e.Outcome,
		LatencyMS:  e.LatencyMS,
		Model:      e.Model,
		Usage:      e.Usage,
		Count:      e.Count,
		TraceID:    e.TraceID,
		Scopes:     e.Scopes,
		Actor:      e.Actor,
	}
}

func (c *canonicalEvent) marshal() ([]byte, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	return b, nil
}

// DecodeCanonical parses a canonical encoding back into an event (without
// Hash). Stores may keep events in this form.
func DecodeCanonical(b []byte) (Event, error) {
	var c canonicalEvent
	if err := json.Unmarshal(b, &c); err != nil {
		return Event{}, fmt.Errorf("decode event: %w", err)
	}
	if c.V != canonicalVersion {
		return Event{}, fmt.Errorf("decode event: unknown canonical version %d", c.V)
	}
	t, err := time.Parse(time.RFC3339Nano, c.Time)
	if err != nil {
		return Event{}, fmt.Errorf("decode event time: %w", err)
	}
	return Event{
		Seq:        c.Seq,
		Time:       t.UTC(),
		ChainID:    c.ChainID,
		PrevHash:   c.PrevHash,
		RequestID:  c.RequestID,
		RunID:      c.RunID,
		SessionID:  c.SessionID,
		Type:       c.Type,
		Subject:    c.Subject,
		AuthMethod: c.AuthMethod,
		Issuer:     c.Issuer,
		Roles:      c.Roles,
		Decision:   c.Decision,
		Rule:       c.Rule,
		Reason:     c.Reason,
		Resource:   c.Resource,
		Content:    c.Content,
		Outcome:    c.Outcome,
		LatencyMS:  c.LatencyMS,
		Model:      c.Model,
		Usage:      c.Usage,
		Count:      c.Count,
		TraceID:    c.TraceID,
		Scopes:     c.Scopes,
		Actor:      c.Actor,
	}, nil
}

// ComputeHash returns the hex SHA-256 over e.PrevHash, a newline and the
// canonical encoding of e: the value e.Hash must hold.
func ComputeHash(e Event) (string, error) {
	b, err := EncodeCanonical(e)
	if err != nil {
		return "", err
	}
	return hashOver(e.PrevHash, b), nil
}

func hashOver(prevHash string, canonical []byte) string {
	h := sha256.New()
	h.Write([]byte(prevHash))
	h.Write([]byte{'\n'})
	h.Write(canonical)
	return hex.EncodeToString(h.Sum(nil))
}

// Sealed is an event as a Store receives it: chained, with the canonical
// encoding its Hash covers. Stores keep Canonical as the event's body, so
// an event is encoded once, and what is stored is the very bytes hashed.
type Sealed struct {
	Event
	Canonical []byte
	// Tree holds the Merkle tree hashes this event adds (see TreeStore);
	// none when the log keeps no tree.
	Tree []StoredHash
}

// sealer seals events for the writer goroutine, reusing what it can
// between events: the struct encoded, the time's text and the bytes a
// hash covers.
type sealer struct {
	c    canonicalEvent
	time []byte
	buf  []byte
}

// seal sets e.Hash from its canonical encoding (e is chained already) and
// also returns the hash's raw bytes (the tree's leaf is made of them).
func (s *sealer) seal(e Event) (Sealed, [sha256.Size]byte, error) {
	s.time = e.Time.UTC().AppendFormat(s.time[:0], time.RFC3339Nano)
	// The string only lives while json encodes it (it copies it).
	s.c.set(e, unsafe.String(unsafe.SliceData(s.time), len(s.time)))
	b, err := s.c.marshal()
	s.c = canonicalEvent{} // keep none of e alive
	if err != nil {
		return Sealed{}, [sha256.Size]byte{}, err
	}
	// What hashOver hashes, in one buffer: no hasher to make per event.
	s.buf = append(append(append(s.buf[:0], e.PrevHash...), '\n'), b...)
	sum := sha256.Sum256(s.buf)
	var hx [2 * sha256.Size]byte
	hex.Encode(hx[:], sum[:])
	e.Hash = string(hx[:])
	return Sealed{Event: e, Canonical: b}, sum, nil
}

// Encode pairs each event with its canonical encoding and keeps Hash as
// it is: for appending events made elsewhere (tests, imports).
func Encode(events ...Event) ([]Sealed, error) {
	out := make([]Sealed, len(events))
	for i, e := range events {
		b, err := EncodeCanonical(e)
		if err != nil {
			return nil, err
		}
		out[i] = Sealed{Event: e, Canonical: b}
	}
	return out, nil
}

// normalize returns e as it reads back after a canonical round trip (UTC
// time, valid UTF-8, nil for empty slices and maps), so that what the log
// hashes is exactly what any store returns. e.Content must be e's own
// (prepare's transform made it): normalize may return it as it is.
func normalize(e Event) (Event, error) {
	if validUTF8(e) {
		return normalizeValid(e), nil
	}
	return roundTrip(e)
}

// normalizeValid is the round trip's result computed directly, for events
// whose strings are all valid UTF-8 (the round trip changes nothing else):
// the time in UTC without a monotonic reading, empty slices and maps as nil,
// and copies of slices and Usage (Content is e's own already: see
// normalize). TestNormalize_FastPathEqualsRoundTrip holds it to roundTrip.
func normalizeValid(e Event) Event {
	e.Time = e.Time.Round(0).UTC()
	// Roles and scopes share one copy; each is capped so that appending
	// to one (bound does) cannot reach the other.
	names := make([]string, 0, len(e.Roles)+len(e.Scopes))
	names = append(append(names, e.Roles...), e.Scopes...)
	r := len(e.Roles)
	e.Roles, e.Scopes = names[:r:r], names[r:]
	if len(e.Roles) == 0 {
		e.Roles = nil
	}
	if len(e.Scopes) == 0 {
		e.Scopes = nil
	}
	if len(e.Content) == 0 {
		e.Content = nil
	}
	if e.Usage != nil {
		u := *e.Usage
		e.Usage = &u
	}
	if len(e.Actor) == 0 {
		e.Actor = nil
	} else {
		e.Actor = append([]Actor(nil), e.Actor...)
	}
	return e
}

func validUTF8(e Event) bool {
	for _, s := range [...]string{e.ChainID, e.PrevHash, e.RequestID, e.RunID, e.SessionID, e.Type, e.Subject,
		e.AuthMethod, e.Issuer, e.Decision, e.Rule, e.Reason, e.Resource, e.Outcome, e.Model, e.TraceID} {
		if !utf8.ValidString(s) {
			return false
		}
	}
	for _, l := range [...][]string{e.Roles, e.Scopes} {
		for _, r := range l {
			if !utf8.ValidString(r) {
				return false
			}
		}
	}
	for _, a := range e.Actor {
		if !utf8.ValidString(a.Subject) || !utf8.ValidString(a.ClientID) {
			return false
		}
	}
	for k, v := range e.Content {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return false
		}
	}
	return true
}

func roundTrip(e Event) (Event, error) {
	b, err := EncodeCanonical(e)
	if err != nil {
		return Event{}, err
	}
	n, err := DecodeCanonical(b)
	if err != nil {
		return Event{}, err
	}
	n.Hash = e.Hash
	return n, nil
}
