// Package builtin holds the demo tools of the tutorial — claims_status,
// payments_lookup and policy_update — over the demo insurance database.
package builtin

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite" // the embedded SQLite driver
)

// DB is the demo insurance database. Its queries are prepared once, at
// open, rather than parsed again on every tool call.
type DB struct {
	db *sql.DB

	getPolicy, claimStatus, payments, setStatus, setPremium, cardStatus *sql.Stmt
}

const schema = `
CREATE TABLE IF NOT EXISTS customers (id TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS policies (id TEXT PRIMARY KEY, customer_id TEXT NOT NULL REFERENCES customers(id),
  status TEXT NOT NULL, premium REAL NOT NULL);
CREATE TABLE IF NOT EXISTS claims (id TEXT PRIMARY KEY, customer_id TEXT NOT NULL REFERENCES customers(id),
  policy_id TEXT NOT NULL REFERENCES policies(id), status TEXT NOT NULL, amount REAL NOT NULL);
CREATE TABLE IF NOT EXISTS payments (id TEXT PRIMARY KEY, customer_id TEXT NOT NULL REFERENCES customers(id),
  date TEXT NOT NULL, amount REAL NOT NULL, method TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cards (number TEXT PRIMARY KEY, customer_id TEXT NOT NULL REFERENCES customers(id),
  brand TEXT NOT NULL, status TEXT NOT NULL);
`

const seed = `
INSERT INTO customers VALUES ('C-100','Ada Moreau'), ('C-200','Ben Okafor');
INSERT INTO policies VALUES ('POL-500','C-100','active',1200.00), ('POL-501','C-200','active',980.50);
INSERT INTO claims VALUES ('CLM-1001','C-100','POL-500','in_review',2500.00), ('CLM-1002','C-200','POL-501','approved',740.00);
INSERT INTO payments VALUES
  ('PAY-9001','C-100','2026-09-01',100.00,'direct_debit'),
  ('PAY-9002','C-100','2026-10-01',100.00,'direct_debit'),
  ('PAY-9003','C-200','2026-09-15',81.71,'card'),
  ('PAY-9004','C-200','2026-10-15',81.71,'card');
`

// OpenDemo opens the demo database at dsn (sqlite://path), creating it with
// the demo rows when it does not exist.
func OpenDemo(ctx context.Context, dsn string) (*DB, error) {
	path, ok := strings.CutPrefix(dsn, "sqlite://")
	if !ok || path == "" {
		return nil, fmt.Errorf("open demo database: dsn must be sqlite://path")
	}
	_, statErr := os.Stat(path)
	fresh := os.IsNotExist(statErr)
	if fresh {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("open demo database: %w", err)
		}
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			return nil, fmt.Errorf("open demo database: %w", err)
		}
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)")
	if err != nil {
		return nil, fmt.Errorf("open demo database: %w", err)
	}
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("create demo schema: %w", err)
	}
	if fresh {
		if _, err := db.ExecContext(ctx, seed); err != nil {
			db.Close()
			return nil, fmt.Errorf("seed demo database: %w", err)
		}
	}
	// Cards came after the first demo databases: added to them too.
	if _, err := db.ExecContext(ctx, cardSeed); err != nil {
		db.Close()
		return nil, fmt.Errorf("seed demo cards: %w", err)
	}
	d := &DB{db: db}
	for _, q := range []struct {
		dst   **sql.Stmt
		query string
	}{
		{&d.getPolicy, `SELECT id, customer_id, status, premium FROM policies WHERE id = ?`},
		{&d.claimStatus, `SELECT id, customer_id, policy_id, status, amount FROM claims WHERE id = ? AND (? = '' OR customer_id = ?)`},
		{&d.payments, `SELECT id, date, amount, method FROM payments WHERE customer_id = ? ORDER BY date`},
		{&d.setStatus, `UPDATE policies SET status = ? WHERE id = ? AND (? = '' OR customer_id = ?)`},
		{&d.setPremium, `UPDATE policies SET premium = ? WHERE id = ? AND (? = '' OR customer_id = ?)`},
		{&d.cardStatus, `SELECT customer_id, brand, status FROM cards WHERE number = ? AND (? = '' OR customer_id = ?)`},
	} {
		if *q.dst, err = db.PrepareContext(ctx, q.query); err != nil {
			db.Close()
			return nil, fmt.Errorf("prepare demo query: %w", err)
		}
	}
	return d, nil
}

// Close closes the database (and with it the prepared statements).
func (d *DB) Close() error { return d.db.Close() }

// Policy is a policy row.
type Policy struct {
	ID         string  `json:"policy_id"`
	CustomerID string  `json:"customer_id"`
	Status     string  `json:"status"`
	Premium    float64 `json:"premium"`
}

// GetPolicy reads a policy (for tests and tools).
func (d *DB) GetPolicy(ctx context.Context, id string) (*Policy, error) {
	var p Policy
	err := d.getPolicy.QueryRowContext(ctx, id).
		Scan(&p.ID, &p.CustomerID, &p.Status, &p.Premium)
	if err != nil {
		return nil, err
	}
	return &p, nil
}
