// Package postgres stores the audit log and sessions in PostgreSQL
// (github.com/jackc/pgx/v5), so several gatehouse processes can share one
// audit log (each appending its own chain) and one session store.
package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"time"

	"github.com/gatehousehq/gatehouse/internal/store/storesql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations
var migrations embed.FS

// DefaultConnectTimeout bounds a connection attempt when the DSN sets no
// connect_timeout, so an unreachable server fails within the audit bound.
const DefaultConnectTimeout = 2 * time.Second

// CloseTimeout bounds how long closing a store waits for its connections.
// pgx gives a connection whose query was cancelled up to 15 s to deliver
// the cancel request and say goodbye; against a server that stopped
// answering that would hold up shutdown, so closing returns after this and
// the connections finish closing in the background.
const CloseTimeout = time.Second

// closePool closes pool, waiting at most CloseTimeout.
func closePool(pool *pgxpool.Pool) {
	done := make(chan struct{})
	go func() {
		pool.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(CloseTimeout):
	}
}

// MigrationLockTimeout bounds how long a migration waits for a table lock.
var MigrationLockTimeout = 5 * time.Second

// migrationLock is the advisory lock key that serializes migrations of
// processes starting at the same time.
const migrationLock = 0x6761746568 // "gateh"

// openPool connects to dsn and applies the migrations under migrations/<set>.
func openPool(ctx context.Context, dsn, set string) (*pgxpool.Pool, error) {
	return open(ctx, dsn, set, migrate)
}

// openExisting connects to dsn to read a database some gatehouse made: it
// must carry every migration of set; nothing is created or migrated (a
// mistyped database is an error, not a new empty log; a read-only role
// can read).
func openExisting(ctx context.Context, dsn, set string) (*pgxpool.Pool, error) {
	return open(ctx, dsn, set, func(ctx context.Context, pool *pgxpool.Pool, set string) error {
		rows, err := pool.Query(ctx, `SELECT name FROM schema_migrations WHERE name LIKE $1`, "migrations/"+set+"/%")
		var applied []string
		if err == nil {
			applied, err = pgx.CollectRows(rows, pgx.RowTo[string])
		}
		return storesql.CheckMigrated(migrations, set, applied, err)
	})
}

func open(ctx context.Context, dsn, set string, prepare func(context.Context, *pgxpool.Pool, string) error) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse postgres dsn: %w", err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	if set == "audit" {
		cfg.AfterConnect = durableCommits
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if err := prepare(ctx, pool, set); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	return pool, nil
}

// durableCommits makes a connection's commits wait for the WAL flush:
// an audit event is acknowledged as durable, and a tool may then run, only
// once its commit is on disk. synchronous_commit=off (set for the role, the
// database or in the DSN's options) would acknowledge it before; any
// stronger setting (remote_write, remote_apply) is kept.
func durableCommits(ctx context.Context, conn *pgx.Conn) error {
	var v string
	if err := conn.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&v); err != nil {
		return fmt.Errorf("read synchronous_commit: %w", err)
	}
	if v != "off" {
		return nil
	}
	if _, err := conn.Exec(ctx, `SET synchronous_commit = on`); err != nil {
		return fmt.Errorf("set synchronous_commit: %w", err)
	}
	return nil
}

// migrate applies, in name order and once each, the SQL files of a set.
func migrate(ctx context.Context, pool *pgxpool.Pool, set string) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		// A migration's ALTER waiting behind a long read (an old replica's
		// verify, say) would queue every other replica's audit writes
		// behind it: give up instead, and let the start be retried.
		if _, err := tx.Exec(ctx, fmt.Sprintf(`SET LOCAL lock_timeout = '%dms'`, MigrationLockTimeout.Milliseconds())); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations
			(name TEXT PRIMARY KEY, applied TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		names, err := fs.Glob(migrations, "migrations/"+set+"/*.sql")
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		sort.Strings(names)
		for _, name := range names {
			var done bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE name = $1)`,
				name).Scan(&done); err != nil {
				return fmt.Errorf("migrate %s: %w", name, err)
			}
			if done {
				continue
			}
			body, err := migrations.ReadFile(name)
			if err != nil {
				return fmt.Errorf("migrate %s: %w", name, err)
			}
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return fmt.Errorf("migrate %s: %w", name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (name) VALUES ($1)`, name); err != nil {
				return fmt.Errorf("migrate %s: %w", name, err)
			}
		}
		return nil
	})
}

// ping checks that the server is reachable and accepts writes (it is not
// a read-only standby).
func ping(ctx context.Context, pool *pgxpool.Pool) error {
	var standby bool
	if err := pool.QueryRow(ctx, `SELECT pg_is_in_recovery()`).Scan(&standby); err != nil {
		return fmt.Errorf("ping postgres: %w", err)
	}
	if standby {
		return fmt.Errorf("ping postgres: server is a read-only standby")
	}
	return nil
}
