// Package store opens the audit log and session stores named by a DSN:
// sqlite://PATH (a file, relative paths allowed) or postgres://... /
// postgresql://... (any DSN pgx accepts in URL form).
package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/gatehousehq/gatehouse/internal/audit"
	"github.com/gatehousehq/gatehouse/internal/session"
	"github.com/gatehousehq/gatehouse/internal/store/postgres"
	"github.com/gatehousehq/gatehouse/internal/store/sqlite"
)

// OpenAudit opens (and migrates) the audit store named by dsn.
func OpenAudit(ctx context.Context, dsn string) (audit.Store, error) {
	kind, rest, err := parse(dsn)
	if err != nil {
		return nil, fmt.Errorf("open audit store: %w", err)
	}
	if kind == "sqlite" {
		return sqlite.OpenAudit(ctx, rest)
	}
	return postgres.OpenAudit(ctx, dsn)
}

// OpenAuditExisting opens the audit log named by dsn for reading (the
// audit commands): it must exist and be fully migrated; nothing is created
// or migrated.
func OpenAuditExisting(ctx context.Context, dsn string) (audit.Store, error) {
	kind, rest, err := parse(dsn)
	if err != nil {
		return nil, fmt.Errorf("open audit store: %w", err)
	}
	if kind == "sqlite" {
		return sqlite.OpenAuditExisting(ctx, rest)
	}
	return postgres.OpenAuditExisting(ctx, dsn)
}

// OpenSessions opens (and migrates) the session store named by dsn.
func OpenSessions(ctx context.Context, dsn string) (session.Store, error) {
	kind, rest, err := parse(dsn)
	if err != nil {
		return nil, fmt.Errorf("open session store: %w", err)
	}
	if kind == "sqlite" {
		return sqlite.OpenSessions(ctx, rest)
	}
	return postgres.OpenSessions(ctx, dsn)
}

// parse returns the backend of dsn and, for SQLite, the file path.
func parse(dsn string) (kind, path string, err error) {
	switch {
	case strings.HasPrefix(dsn, "sqlite://"):
		path = strings.TrimPrefix(dsn, "sqlite://")
		if path == "" {
			return "", "", fmt.Errorf("dsn %q names no file", dsn)
		}
		return "sqlite", path, nil
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return "postgres", "", nil
	default:
		// Never echo a DSN that may hold a password.
		scheme, _, _ := strings.Cut(dsn, ":")
		return "", "", fmt.Errorf("unsupported dsn scheme %q (want sqlite:// or postgres://)", scheme)
	}
}
