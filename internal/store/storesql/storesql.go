// Package storesql is the SQL the SQLite and PostgreSQL backends share: the
// audit event columns and how a row becomes an event, the audit list query
// (written once, with each backend's placeholder style), and reading rows
// of events, checkpoints and session messages. Each backend keeps its own connections,
// transactions and migrations.
package storesql

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/passthrough"
	"github.com/gatehousehq/gatehouse/internal/session"
)

// EventColumns are the audit_events columns ScanEvent reads, in order.
const EventColumns = `id, chain_id, seq, time_ns, type, subject, decision, prev_hash, hash, body, trace_id`

// Row is one result row (database/sql and pgx rows alike).
type Row interface{ Scan(dest ...any) error }

// Rows is a result set (database/sql and pgx alike).
type Rows interface {
	Row
	Next() bool
	Err() error
}

// ScanEvent reads a row of EventColumns. The columns win over the body, so
// an edit of either one shows in the hash. Errors wrap the driver's (so a
// backend's no-rows error still matches).
func ScanEvent(row Row) (audit.Entry, error) {
	var (
		en     audit.Entry
		c      audit.Event
		timeNS int64
		body   string
		trace  sql.NullString
	)
	if err := row.Scan(&en.ID, &c.ChainID, &c.Seq, &timeNS, &c.Type, &c.Subject, &c.Decision,
		&c.PrevHash, &c.Hash, &body, &trace); err != nil {
		return en, fmt.Errorf("read audit event: %w", err)
	}
	e, err := audit.DecodeCanonical([]byte(body))
	if err != nil {
		return en, fmt.Errorf("read audit event %d: %w", en.ID, err)
	}
	e.ChainID, e.Seq, e.Time = c.ChainID, c.Seq, time.Unix(0, timeNS).UTC()
	e.Type, e.Subject, e.Decision = c.Type, c.Subject, c.Decision
	e.PrevHash, e.Hash = c.PrevHash, c.Hash
	e.TraceID = trace.String // NULL reads as none
	en.Event = e
	return en, nil
}

// EachEvent calls fn for every row of EventColumns, stopping at fn's first error.
func EachEvent(rows Rows, fn func(audit.Entry) error) error {
	for rows.Next() {
		en, err := ScanEvent(rows)
		if err != nil {
			return err
		}
		if err := fn(en); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read audit events: %w", err)
	}
	return nil
}

// CollectEvents reads every row of EventColumns.
func CollectEvents(rows Rows) ([]audit.Entry, error) {
	var out []audit.Entry
	err := EachEvent(rows, func(en audit.Entry) error {
		out = append(out, en)
		return nil
	})
	return out, err
}

// SinceNS is the time_ns bound of a scan from since (zero: from the start).
func SinceNS(since time.Time) int64 {
	if since.IsZero() {
		return -1 << 63
	}
	return since.UnixNano()
}

// ListQuery builds the audit list query for f; placeholder(n) is the
// backend's n-th parameter marker (1-based): "?" or "$n".
func ListQuery(f audit.Filter, placeholder func(n int) string) (string, []any) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, cond+" "+placeholder(len(args)))
	}
	if f.Subject != "" {
		add("subject =", f.Subject)
	}
	if f.Type != "" {
		add("type =", f.Type)
	}
	if f.Decision != "" {
		add("decision =", f.Decision)
	}
	if !f.Since.IsZero() {
		add("time_ns >=", f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		add("time_ns <", f.Until.UnixNano())
	}
	if f.AfterID > 0 {
		add("id >", f.AfterID)
	}
	if f.BeforeID > 0 {
		add("id <", f.BeforeID)
	}
	q := `SELECT ` + EventColumns + ` FROM audit_events`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	if f.Desc {
		q += " ORDER BY id DESC"
	} else {
		q += " ORDER BY id"
	}
	limit := f.Limit
	if limit <= 0 {
		limit = audit.DefaultListLimit
	}
	args = append(args, limit)
	return q + " LIMIT " + placeholder(len(args)), args
}

// CollectMessages reads rows of one column, a session message's JSON body.
func CollectMessages(rows Rows) ([]session.Message, error) {
	var out []session.Message
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, fmt.Errorf("get session messages: %w", err)
		}
		var m session.Message
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			return nil, fmt.Errorf("decode session message: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("get session messages: %w", err)
	}
	return out, nil
}

// CheckpointsQuery reads every stored checkpoint, oldest first.
const CheckpointsQuery = `SELECT chain_id, seq, hash, time_ns, public_key, signature FROM audit_checkpoints ORDER BY id`

// CollectCheckpoints reads rows of CheckpointsQuery.
func CollectCheckpoints(rows Rows) ([]audit.Checkpoint, error) {
	var out []audit.Checkpoint
	for rows.Next() {
		var (
			c  audit.Checkpoint
			ns int64
		)
		if err := rows.Scan(&c.ChainID, &c.Seq, &c.Hash, &ns, &c.PublicKey, &c.Signature); err != nil {
			return nil, fmt.Errorf("list checkpoints: %w", err)
		}
		c.Time = time.Unix(0, ns).UTC()
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list checkpoints: %w", err)
	}
	return out, nil
}

// CheckMigrated reports whether applied, the names recorded in a
// database's schema_migrations (read with queryErr), covers every migration
// file of set in fsys: what a reader that must not migrate needs to know.
func CheckMigrated(fsys fs.FS, set string, applied []string, queryErr error) error {
	if queryErr != nil {
		if strings.Contains(queryErr.Error(), "schema_migrations") { // no such table / does not exist
			return fmt.Errorf("not a gatehouse %s database (no migrations recorded): %w", set, queryErr)
		}
		return fmt.Errorf("read the %s database's migrations: %w", set, queryErr)
	}
	names, err := fs.Glob(fsys, "migrations/"+set+"/*.sql")
	if err != nil {
		return err
	}
	have := make(map[string]bool, len(applied))
	for _, a := range applied {
		have[a] = true
	}
	for _, n := range names {
		if !have[n] {
			return fmt.Errorf("the %s database lacks migration %s (an older gatehouse wrote it): run gatehouse serve on it once to migrate it, or read it with the version that wrote it", set, path.Base(n))
		}
	}
	return nil
}

// Nullable is s as a column value, NULL when empty.
func Nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// ReleasedColumns are the released_calls columns CollectReleased reads.
const ReleasedColumns = `id, tool, run_id, released_ns, reported, args_sha256, result_sha256`

// CollectReleased reads rows of ReleasedColumns as owner's released calls.
func CollectReleased(rows Rows, owner string) (map[string]passthrough.Released, error) {
	out := map[string]passthrough.Released{}
	for rows.Next() {
		c := passthrough.Released{Owner: owner}
		var ns int64
		if err := rows.Scan(&c.ID, &c.Tool, &c.RunID, &ns, &c.Reported, &c.ArgsSHA256, &c.ResultSHA256); err != nil {
			return nil, fmt.Errorf("look up released tool calls: %w", err)
		}
		c.Time = time.Unix(0, ns).UTC()
		out[c.ID] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("look up released tool calls: %w", err)
	}
	return out, nil
}

// CollectTreeHashes reads (idx, hash) rows into the order of indexes; each
// must be present.
func CollectTreeHashes(rows Rows, indexes []int64) ([]tlog.Hash, error) {
	got := map[int64]tlog.Hash{}
	for rows.Next() {
		var idx int64
		var b []byte
		if err := rows.Scan(&idx, &b); err != nil {
			return nil, fmt.Errorf("read tree hash: %w", err)
		}
		if len(b) != tlog.HashSize {
			return nil, fmt.Errorf("tree hash %d is %d bytes", idx, len(b))
		}
		got[idx] = tlog.Hash(b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read tree hashes: %w", err)
	}
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		h, ok := got[x]
		if !ok {
			return nil, fmt.Errorf("tree hash %d is not stored", x)
		}
		out[i] = h
	}
	return out, nil
}

// NotesQuery selects note checkpoints (chain_id = p, or all for an empty
// p value) with their cosignatures, one row per cosignature (or one with
// NULLs), by chain, size and witness; p is the backend's placeholder.
func NotesQuery(p string) string {
	return `SELECT n.chain_id, n.size, n.root, n.note, c.witness, c.line
		FROM audit_notes n LEFT JOIN audit_cosignatures c ON c.chain_id = n.chain_id AND c.size = n.size
		WHERE ` + p + ` = '' OR n.chain_id = ` + p + `
		ORDER BY n.chain_id, n.size, c.witness`
}

// CollectNotes reads NotesQuery's rows.
func CollectNotes(rows Rows) ([]audit.NoteCheckpoint, error) {
	var out []audit.NoteCheckpoint
	for rows.Next() {
		var n audit.NoteCheckpoint
		var root []byte
		var note string
		var witness, line *string
		if err := rows.Scan(&n.ChainID, &n.Size, &root, &note, &witness, &line); err != nil {
			return nil, fmt.Errorf("read note checkpoint: %w", err)
		}
		if len(root) != tlog.HashSize {
			return nil, fmt.Errorf("note checkpoint %s/%d: root is %d bytes", n.ChainID, n.Size, len(root))
		}
		n.Root, n.Note = tlog.Hash(root), []byte(note)
		if k := len(out) - 1; k >= 0 && out[k].ChainID == n.ChainID && out[k].Size == n.Size {
			n = out[k]
			out = out[:k]
		}
		if witness != nil && line != nil {
			n.Cosignatures = append(n.Cosignatures, audit.Cosignature{Witness: *witness, Line: *line})
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read note checkpoints: %w", err)
	}
	return out, nil
}

// CollectChainHeads reads (chain_id, max seq) rows.
func CollectChainHeads(rows Rows) (map[string]int64, error) {
	out := map[string]int64{}
	for rows.Next() {
		var id string
		var seq int64
		if err := rows.Scan(&id, &seq); err != nil {
			return nil, fmt.Errorf("read chain head: %w", err)
		}
		out[id] = seq
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read chain heads: %w", err)
	}
	return out, nil
}
