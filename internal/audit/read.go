package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MaxPageBytes bounds the JSON of one page's events (see List).
const MaxPageBytes = 1 << 20

// MaxListLimit caps Query.Limit.
const MaxListLimit = 1000

// Query is a page request of /admin/audit, newest events first.
type Query struct {
	Subject  string
	Type     string
	Decision string
	Since    time.Time // inclusive
	Until    time.Time // exclusive
	Cursor   string    // opaque, from Page.NextCursor
	Limit    int       // default DefaultListLimit, at most MaxListLimit
}

// Page is one page of events; NextCursor is empty on the last page.
type Page struct {
	Events     []Event `json:"events"`
	NextCursor string  `json:"next_cursor,omitempty"`
}

// ErrBadQuery is wrapped by ParseQuery and List for invalid parameters (a
// client error: 400).
var ErrBadQuery = errors.New("invalid audit query")

// ParseTime reads an RFC 3339 time a store can compare: events are kept in
// nanoseconds since 1970, which span the years 1678 to 2261; a bound outside
// them would wrap around and silently select nothing.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errors.New("must be an RFC 3339 time")
	}
	if y := t.UTC().Year(); y < 1678 || y > 2261 {
		return time.Time{}, errors.New("must be between the years 1678 and 2261")
	}
	return t, nil
}

// ParseQuery reads subject, type, decision, since, until (RFC 3339), cursor
// and limit from URL query values.
func ParseQuery(v url.Values) (Query, error) {
	q := Query{Subject: v.Get("subject"), Type: v.Get("type"), Decision: v.Get("decision"), Cursor: v.Get("cursor")}
	for name, dst := range map[string]*time.Time{"since": &q.Since, "until": &q.Until} {
		if s := v.Get(name); s != "" {
			t, err := ParseTime(s)
			if err != nil {
				return Query{}, fmt.Errorf("%w: %s %w", ErrBadQuery, name, err)
			}
			*dst = t
		}
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return Query{}, fmt.Errorf("%w: limit must be a positive integer", ErrBadQuery)
		}
		q.Limit = n
	}
	return q, nil
}

// List returns one page of events matching q, newest first: at most
// q.Limit events and, once more than one, at most MaxPageBytes of them as
// JSON — events written before fields were bounded can be megabytes each.
// The store is asked for a few events at a time, so what is held stays near
// the budget too. NextCursor leads on to the rest.
func List(ctx context.Context, s Store, q Query) (Page, error) {
	f := Filter{Subject: q.Subject, Type: q.Type, Decision: q.Decision, Since: q.Since, Until: q.Until, Desc: true}
	want := min(max(q.Limit, 0), MaxListLimit)
	if want == 0 {
		want = DefaultListLimit
	}
	if q.Cursor != "" {
		id, err := strconv.ParseInt(strings.TrimPrefix(q.Cursor, "c"), 10, 64)
		if err != nil || !strings.HasPrefix(q.Cursor, "c") || id < 1 {
			return Page{}, fmt.Errorf("%w: bad cursor", ErrBadQuery)
		}
		f.BeforeID = id
	}
	p := Page{Events: []Event{}}
	size, chunk := 0, firstListChunk
	for {
		f.Limit = min(chunk, want-len(p.Events))
		entries, err := s.List(ctx, f)
		if err != nil {
			return Page{}, fmt.Errorf("list audit events: %w", err)
		}
		for _, e := range entries {
			b, err := json.Marshal(e.Event)
			if err != nil {
				return Page{}, fmt.Errorf("list audit events: %w", err)
			}
			if len(p.Events) > 0 && size+len(b) > MaxPageBytes {
				p.NextCursor = pageCursor(f.BeforeID)
				return p, nil
			}
			p.Events = append(p.Events, e.Event)
			size += len(b)
			f.BeforeID = e.ID
		}
		switch {
		case len(entries) < f.Limit:
			return p, nil // the end of the log
		case len(p.Events) == want:
			p.NextCursor = pageCursor(f.BeforeID)
			return p, nil
		}
		// Ask next for about as many events as the budget left holds.
		chunk = min(max((MaxPageBytes-size)/(size/len(p.Events)+1), 1), maxListChunk)
	}
}

// How many events List asks the store for at a time.
const (
	firstListChunk = 16
	maxListChunk   = 256
)

func pageCursor(id int64) string { return "c" + strconv.FormatInt(id, 10) }

// exportLine is one line of an export: an event, or a checkpoint wrapped in
// {"checkpoint": ...}.
type exportLine struct {
	Checkpoint *Checkpoint `json:"checkpoint,omitempty"`
}

// Export writes every event at or after since (zero: all) as JSON lines,
// ordered by chain and seq, followed by the checkpoints as
// {"checkpoint": {...}} lines. The output can be given to
// `audit verify --checkpoint`.
func Export(ctx context.Context, w io.Writer, s Store, since time.Time) error {
	enc := json.NewEncoder(w)
	if err := s.Scan(ctx, since, func(e Event) error { return enc.Encode(e) }); err != nil {
		return fmt.Errorf("export audit events: %w", err)
	}
	cps, err := s.Checkpoints(ctx)
	if err != nil {
		return fmt.Errorf("export checkpoints: %w", err)
	}
	for _, c := range cps {
		if !since.IsZero() && c.Time.Before(since) {
			continue
		}
		if err := enc.Encode(exportLine{Checkpoint: &c}); err != nil {
			return fmt.Errorf("export checkpoints: %w", err)
		}
	}
	return nil
}

// TailOptions configures WriteTail.
type TailOptions struct {
	Lines  int           // how many recent events first; default 20
	Follow bool          // keep printing new events until ctx ends
	JSON   bool          // JSON lines instead of one readable line each
	Poll   time.Duration // follow poll interval; default 1s
}

// Follower is a store whose ids can become visible out of order (several
// writers taking ids from one sequence, committing in any order), so that
// "id > last seen" would skip events. Follow returns the events visible after
// cursor, never skipping one, and the cursor to continue from; the empty
// cursor starts with what commits from now on, and limit 0 only returns a
// cursor.
type Follower interface {
	Follow(ctx context.Context, cursor string, limit int) ([]Entry, string, error)
}

// WriteTail prints the most recent events, oldest first, and with Follow
// keeps printing new ones until ctx is done (which is not an error).
func WriteTail(ctx context.Context, w io.Writer, s Store, o TailOptions) error {
	setDefault(&o.Lines, 20)
	setDefault(&o.Poll, time.Second)
	follower, _ := s.(Follower)
	var cursor string
	if o.Follow && follower != nil {
		var err error
		if _, cursor, err = follower.Follow(ctx, "", 0); err != nil {
			return fmt.Errorf("tail audit log: %w", err)
		}
	}
	entries, err := s.List(ctx, Filter{Desc: true, Limit: o.Lines})
	if err != nil {
		return fmt.Errorf("tail audit log: %w", err)
	}
	slices.Reverse(entries)
	// What the first page showed, so a follower starting before it does
	// not print it twice.
	shown := make(map[int64]bool, len(entries))
	var last int64
	for first := true; ; first = false {
		for _, e := range entries {
			if shown[e.ID] {
				continue
			}
			if first {
				shown[e.ID] = true
			}
			if err := writeEvent(w, e.Event, o.JSON); err != nil {
				return fmt.Errorf("tail audit log: %w", err)
			}
			last = max(last, e.ID)
		}
		if !o.Follow {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(o.Poll):
		}
		if follower != nil {
			entries, cursor, err = follower.Follow(ctx, cursor, MaxListLimit)
		} else {
			entries, err = s.List(ctx, Filter{AfterID: last, Limit: MaxListLimit})
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("tail audit log: %w", err)
		}
	}
}

func writeEvent(w io.Writer, e Event, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(e)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %-16s", e.Time.UTC().Format("2006-01-02T15:04:05.000Z"), e.Type)
	for _, kv := range [][2]string{
		{"decision", e.Decision}, {"subject", e.Subject}, {"method", e.AuthMethod},
		{"resource", e.Resource}, {"rule", e.Rule}, {"outcome", e.Outcome}, {"reason", e.Reason},
		{"model", e.Model}, {"run", e.RunID}, {"session", e.SessionID}, {"request", e.RequestID},
	} {
		if kv[1] != "" {
			fmt.Fprintf(&b, " %s=%s", kv[0], quoteIfNeeded(kv[1]))
		}
	}
	if e.LatencyMS != 0 {
		fmt.Fprintf(&b, " latency_ms=%d", e.LatencyMS)
	}
	if e.Count != 0 {
		fmt.Fprintf(&b, " count=%d", e.Count)
	}
	fmt.Fprintf(&b, " chain=%s seq=%d\n", e.ChainID, e.Seq)
	_, err := io.WriteString(w, b.String())
	return err
}

// quoteIfNeeded keeps plain values readable and quotes the rest, so a value
// cannot fake another field or line.
func quoteIfNeeded(v string) string {
	for _, r := range v {
		if r <= ' ' || r == '"' || r == '=' || r == '\\' || !strconv.IsPrint(r) {
			return strconv.Quote(v)
		}
	}
	return v
}
