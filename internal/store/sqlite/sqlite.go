// Package sqlite is the embedded store backend: one SQLite file in the data
// directory, opened through the pure-Go modernc.org/sqlite driver (no cgo).
//
// Writes go through a single connection so that SQLite's one-writer rule is
// met inside the process instead of surfacing as SQLITE_BUSY; reads use a
// separate pool and run concurrently thanks to WAL mode.
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
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gatehouse-auth/gatehouse/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// FileName is the database file's name inside the data directory.
const FileName = "gatehouse.db"

// DB is an open Gatehouse database.
type DB struct {
	w *sql.DB // one connection: every write transaction
	r *sql.DB // many connections: plain reads
}

// Open opens (creating if needed) the database file at path and applies
// any pending migrations.
func Open(ctx context.Context, path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: create directory: %w", err)
	}
	// Create the file with owner-only permissions before SQLite does: it
	// holds signing keys and the CSRF secret.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600) // #nosec G304 -- the operator's data directory (config "data")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}

	q := url.Values{}
	// WAL: readers never block the writer and vice versa.
	q.Add("_pragma", "journal_mode(WAL)")
	// FULL: a commit is on disk before it is acknowledged, so no session
	// or user that a client was told about is lost by a crash or power cut.
	q.Add("_pragma", "synchronous(FULL)")
	// Another process (the CLI while the server runs) may hold the write
	// lock for a moment; wait for it instead of failing.
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "foreign_keys(1)")
	// IMMEDIATE takes the write lock at BEGIN, so a transaction never has to
	// upgrade a read lock (the source of SQLITE_BUSY deadlocks).
	q.Set("_txlock", "immediate")
	dsn := "file:" + uriPath.Replace(path) + "?" + q.Encode()

	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	r, err := sql.Open("sqlite", dsn)
	if err != nil {
		_ = w.Close() // err is the one to report
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	r.SetMaxOpenConns(8)
	db := &DB{w: w, r: r}
	if err := db.migrate(ctx); err != nil {
		_ = db.Close() // the migration error is the one to report
		return nil, err
	}
	return db, nil
}

// uriPath escapes the characters that end or escape the path of an SQLite
// URI (https://sqlite.org/uri.html): unescaped, a data directory named
// "a#b" or "a?b" would make SQLite open the file "a" instead, created with
// the default mode rather than 0600.
var uriPath = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")

func (db *DB) migrate(ctx context.Context) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("sqlite: migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db.w, fsys)
	if err != nil {
		return fmt.Errorf("sqlite: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	return nil
}

// Close closes both connection pools.
func (db *DB) Close() error {
	return errors.Join(db.r.Close(), db.w.Close())
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.r.PingContext(ctx) }

// tx runs fn in one write transaction, committing if it returns nil.
func (db *DB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return formatError(err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback() // fn's error is the one to report
		return err
	}
	if err := tx.Commit(); err != nil {
		return formatError(err)
	}
	return nil
}

// formatError maps driver errors to the store's sentinel errors.
func formatError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w", store.ErrNotFound)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %v", store.ErrConflict, err)
		}
		// Another process (a command, a backup) held the write lock for
		// all of busy_timeout: the database is out of reach for now, and
		// the request can be retried, as with a PostgreSQL outage.
		if se.Code()&0xff == sqlite3.SQLITE_BUSY {
			return fmt.Errorf("sqlite: %w: %w", store.ErrUnavailable, err)
		}
	}
	return fmt.Errorf("sqlite: %w", err)
}

// Times are stored as Unix nanoseconds; the zero time as NULL.
func ts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

func fromTS(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

// collect scans every row with scan and closes rows; no rows is a nil
// slice. err is the query's, so a call reads collect(db.r.QueryContext(...)).
func collect[T any](rows *sql.Rows, err error, scan func(scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, formatError(err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, formatError(rows.Err())
}

// deletedOne is the error of a DELETE by key: the statement's own, or
// ErrNotFound (naming what) when it deleted nothing.
func deletedOne(res sql.Result, err error, what string) error {
	if err != nil {
		return formatError(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return formatError(err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}
