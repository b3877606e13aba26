package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// writer runs a store's write transactions. They queue in Go, one at a
// time (honouring ctx), rather than in SQLite's busy handler, so the busy
// timeout only covers other processes; and they run on one connection whose
// statements — BEGIN IMMEDIATE and COMMIT included — are prepared once
// rather than parsed again for every transaction.
//
// SQLite's own checkpoints (wal_autocheckpoint) are off: one runs inside
// the commit that crosses the mark, copying the WAL into the database and
// syncing it, and held that commit's caller for milliseconds. The writer
// instead has a goroutine of its own checkpoint every checkpointEvery
// commits, after the commit that crossed the mark was answered: it holds
// the write lock meanwhile (so the checkpoint reaches the WAL's end and
// the next commit starts the WAL over; a commit arriving then waits, as
// it did before), mostly in the idle time between commits.
type writer struct {
	db   *sql.DB
	lock chan struct{}

	// Guarded by lock.
	conn    *sql.Conn
	stmts   map[string]*sql.Stmt   // for queries (scan)
	execs   map[string]driver.Stmt // for exec, prepared on conn's driver connection
	args    []any                  // rowInsert's arguments, reused
	named   []driver.NamedValue    // exec's arguments, reused
	commits int64

	checkpointEvery int64
	kick            chan struct{}
	stop            chan struct{}
	stopOnce        sync.Once
	stopped         chan struct{}
}

func newWriter(db *sql.DB, checkpointEvery int64) *writer {
	w := &writer{db: db, lock: make(chan struct{}, 1), checkpointEvery: checkpointEvery,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{})}
	go w.checkpoints()
	return w
}

// checkpoints runs a checkpoint each time the writer asks, until close.
// One that fails is tried again at the next mark.
func (w *writer) checkpoints() {
	defer close(w.stopped)
	for {
		select {
		case <-w.kick:
		case <-w.stop:
			return
		}
		select {
		case w.lock <- struct{}{}:
		case <-w.stop:
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*BusyTimeout)
		_, _ = txn{ctx: ctx, w: w}.exec("PRAGMA wal_checkpoint(PASSIVE)")
		cancel()
		<-w.lock
	}
}

// committed counts a commit and asks for a checkpoint when one is due.
// Called with the lock held.
func (w *writer) committed() {
	w.commits++
	if w.commits%w.checkpointEvery == 0 {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
}

// rowInsert inserts rows into one table, up to maxRowsPerInsert of them
// per INSERT statement: a run's messages or a group commit's events go in
// one or a few statements rather than one each, and the prepared
// statements stay few (one per row count).
type rowInsert struct {
	columns int
	stmts   [maxRowsPerInsert + 1]string // stmts[n] inserts n rows
}

const maxRowsPerInsert = 8

func newRowInsert(table string, columns ...string) *rowInsert {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(columns)), ", ") + ")"
	r := &rowInsert{columns: len(columns)}
	for n := 1; n <= maxRowsPerInsert; n++ {
		r.stmts[n] = "INSERT INTO " + table + " (" + strings.Join(columns, ", ") + ") VALUES " +
			strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
	}
	return r
}

// exec inserts n rows in tx. row appends the values of row i to args; it
// is called for i = 0, 1, …, n-1 in that order, so it may walk a cursor.
func (r *rowInsert) exec(tx txn, n int, row func(i int, args []any) ([]any, error)) error {
	for start := 0; start < n; start += maxRowsPerInsert {
		k := min(n-start, maxRowsPerInsert)
		args := tx.w.args[:0]
		for i := start; i < start+k; i++ {
			var err error
			if args, err = row(i, args); err != nil {
				return err
			}
		}
		_, err := tx.exec(r.stmts[k], args...)
		clear(args) // keep no caller's values alive
		tx.w.args = args[:0]
		if err != nil {
			return err
		}
	}
	return nil
}

// txn is the handle a transaction's function writes through.
type txn struct {
	ctx context.Context
	w   *writer
}

// exec runs a statement of the transaction. The transaction's context is
// checked before each statement, not watched during it: the driver
// watches a cancellable context with a goroutine per statement, which
// made a commit a third slower (the busy timeout bounds a statement's
// wait for a lock, and an fsync cannot be interrupted anyway).
//
// It runs on the driver's own statement, prepared once on the write
// connection, with the arguments converted as database/sql converts them:
// database/sql's exec path cost a commit some ten allocations a statement
// (its argument copy, context, result wrapper) and the critical section
// of every commit is spent here.
func (t txn) exec(query string, args ...any) (driver.Result, error) {
	if err := t.w.open(t.ctx); err != nil {
		return nil, err
	}
	if err := t.ctx.Err(); err != nil {
		return nil, err
	}
	named := t.w.named[:0]
	for i, a := range args {
		v, err := driver.DefaultParameterConverter.ConvertValue(a)
		if err != nil {
			return nil, fmt.Errorf("argument %d: %w", i+1, err)
		}
		named = append(named, driver.NamedValue{Ordinal: i + 1, Value: v})
	}
	defer func() {
		clear(named)
		t.w.named = named[:0]
	}()
	var res driver.Result
	err := t.w.conn.Raw(func(dc any) error {
		st, err := t.w.execStmt(dc, query)
		if err != nil {
			return err
		}
		res, err = st.(driver.StmtExecContext).ExecContext(context.Background(), named)
		return err
	})
	if errors.Is(err, driver.ErrBadConn) {
		t.w.dropConn() // database/sql has closed it
	}
	return res, err
}

// scan runs a one-row query of the transaction into dest.
func (t txn) scan(query string, args []any, dest ...any) error {
	st, err := t.w.stmt(t.ctx, query)
	if err != nil {
		return err
	}
	if err := t.ctx.Err(); err != nil {
		return err
	}
	return st.QueryRowContext(context.WithoutCancel(t.ctx), args...).Scan(dest...)
}

// inTx runs fn in a write transaction (BEGIN IMMEDIATE) and commits it;
// when fn or the commit fails, the transaction is rolled back.
func (w *writer) inTx(ctx context.Context, fn func(txn) error) error {
	select {
	case w.lock <- struct{}{}:
	default: // held: wait, honouring ctx (whose Done channel costs an allocation the first time)
		select {
		case w.lock <- struct{}{}:
		case <-ctx.Done():
			return fmt.Errorf("wait for write lock: %w", ctx.Err())
		}
	}
	defer func() { <-w.lock }()
	t := txn{ctx: ctx, w: w}
	committed := false
	// Also when fn panics: the transaction must not outlive this call.
	defer func() {
		if !committed {
			w.rollback()
		}
	}()
	if _, err := t.exec("BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(t); err != nil {
		return err
	}
	if _, err := t.exec("COMMIT"); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	committed = true
	w.committed()
	return nil
}

// open opens the write connection if needed. Called with the lock held.
func (w *writer) open(ctx context.Context) error {
	if w.conn != nil {
		return nil
	}
	c, err := w.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("open write connection: %w", err)
	}
	w.conn, w.stmts, w.execs = c, map[string]*sql.Stmt{}, map[string]driver.Stmt{}
	return nil
}

// stmt returns query prepared on the write connection, opening the
// connection first if needed. Called with the lock held.
func (w *writer) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := w.stmts[query]; ok {
		return st, nil
	}
	if err := w.open(ctx); err != nil {
		return nil, err
	}
	st, err := w.conn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	w.stmts[query] = st
	return st, nil
}

// execStmt returns query prepared on dc, the write connection's driver
// connection (inside conn.Raw). Called with the lock held.
func (w *writer) execStmt(dc any, query string) (driver.Stmt, error) {
	if st, ok := w.execs[query]; ok {
		return st, nil
	}
	st, err := dc.(driver.ConnPrepareContext).PrepareContext(context.Background(), query)
	if err != nil {
		return nil, err
	}
	if _, ok := st.(driver.StmtExecContext); !ok {
		st.Close()
		return nil, fmt.Errorf("prepare %q: driver statement cannot exec with a context", query)
	}
	w.execs[query] = st
	return st, nil
}

// rollback ends a failed transaction. It runs without the caller's context,
// which may be what failed it. SQLite may have ended the transaction itself
// (an interrupted or failed statement can); that is the state wanted. If the
// rollback fails otherwise, the connection is dropped (closing it rolls
// back), so the next transaction starts on a fresh one rather than inside a
// half-finished one.
func (w *writer) rollback() {
	if w.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), BusyTimeout)
	defer cancel()
	st, err := w.stmt(ctx, "ROLLBACK")
	if err == nil {
		_, err = st.ExecContext(ctx)
	}
	if err != nil && !strings.Contains(err.Error(), "no transaction is active") {
		w.closeConn()
	}
}

// closeConn closes the write connection and its statements. The
// connection is discarded, not returned to the pool: closing it is what
// ends a transaction a failed ROLLBACK left open, which a pooled reader
// must never find itself inside.
func (w *writer) closeConn() {
	for _, st := range w.stmts {
		st.Close()
	}
	if w.conn != nil {
		_ = w.conn.Raw(func(any) error {
			for _, st := range w.execs {
				st.Close()
			}
			return driver.ErrBadConn
		})
		w.conn.Close()
	}
	w.conn, w.stmts, w.execs = nil, nil, nil
}

// dropConn forgets a write connection database/sql has already closed
// (its driver reported it bad): the next transaction opens another.
func (w *writer) dropConn() {
	for _, st := range w.stmts {
		st.Close()
	}
	w.conn, w.stmts, w.execs = nil, nil, nil
}

// close releases the write connection; call it before closing the database.
func (w *writer) close() {
	w.stopOnce.Do(func() { close(w.stop) })
	<-w.stopped
	w.lock <- struct{}{}
	defer func() { <-w.lock }()
	w.closeConn()
}
