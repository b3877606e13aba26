// Package sqlite stores the audit log and sessions in SQLite files
// (modernc.org/sqlite, no cgo): WAL journal, synchronous=FULL so a commit is
// fsync'd before it returns, and a bounded busy timeout so a file locked by
// someone else fails fast instead of stalling the request (fail closed).
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse/internal/store/storesql"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations
var migrations embed.FS

// BusyTimeout is how long a write waits for a lock held by another
// connection. It stays below the audit log's default commit bound (2s).
const BusyTimeout = time.Second

// openDB opens the file at path (created with its directory when missing)
// and applies the migrations under migrations/<set>.
//
// The audit log commits with synchronous=FULL (fsync on every commit);
// sessions use synchronous=NORMAL, which in WAL mode survives a process
// crash but may lose the last commits on power loss — conversation history
// is not the compliance record, and its fsync was a sixth of a run's cost.
// Neither checkpoints inside a commit: the writer checkpoints beside
// them (see writer).
func openDB(ctx context.Context, path, set string) (*sql.DB, error) {
	return openDBWith(ctx, path, set, nil)
}

// openDBWith is openDB applying only the migrations keep accepts (all when
// nil): tests make files as older versions left them.
func openDBWith(ctx context.Context, path, set string, keep func(name string) bool) (*sql.DB, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("open sqlite %q: path must be non-empty without ? or #", path)
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
	}
	// Audit events and conversations are private: create the file 0600
	// (SQLite gives its -wal and -shm files the same mode).
	if f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); err == nil {
		f.Close()
	} else if !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	db, err := sql.Open("sqlite", dsnFor(path, set))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if err := migrate(ctx, db, set, keep); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return db, nil
}

func dsnFor(path, set string) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", BusyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	if set == "sessions" {
		q.Add("_pragma", "synchronous(NORMAL)")
	} else {
		q.Add("_pragma", "synchronous(FULL)")
	}
	// Checkpoints run beside the commits, not in them (see writer).
	q.Add("_pragma", "wal_autocheckpoint(0)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode()
}

// openExisting opens a file some gatehouse made, for reading it: it must
// exist and carry every migration of set. Nothing is created, migrated or
// converted, so a mistyped path is an error (not a new, empty, "intact"
// log) and an evidence copy is read as it is.
func openExisting(ctx context.Context, path, set string) (*sql.DB, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("open sqlite %q: path must be non-empty without ? or #", path)
	}
	if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("no %s database at %s", set, path)
	}
	// Read-only, and no journal-mode pragma: opening must not convert a
	// copy to WAL or fold its -wal file in. (SQLite still needs to write
	// the -shm index beside a WAL file, so the directory must be writable.)
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", BusyTimeout.Milliseconds()))
	q.Set("mode", "ro")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	applied, qerr := appliedMigrations(ctx, db)
	if err := storesql.CheckMigrated(migrations, set, applied, qerr); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return db, nil
}

// migrate applies, in name order and once each, the SQL files of a set.
func migrate(ctx context.Context, db *sql.DB, set string, keep func(string) bool) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx,
		`CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_ns INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/"+set+"/*.sql")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		if keep != nil && !keep(name) {
			continue
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE name = ?`, name).Scan(&n); err != nil {
			return fmt.Errorf("migrate %s: %w", name, err)
		}
		if n > 0 {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return fmt.Errorf("migrate %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			return fmt.Errorf("migrate %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (name, applied_ns) VALUES (?, ?)`,
			name, time.Now().UnixNano()); err != nil {
			return fmt.Errorf("migrate %s: %w", name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// appliedMigrations reads the names recorded in schema_migrations.
func appliedMigrations(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT name FROM schema_migrations`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}
