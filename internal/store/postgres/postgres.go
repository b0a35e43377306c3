// Package postgres is the store backend for more than one Gatehouse node:
// one PostgreSQL database that every node shares, reached through a pgx
// connection pool. It keeps the same records under the same contract as
// the sqlite package, and passes the same suite (storetest); its schema is
// the same versioned migration set written in PostgreSQL's dialect.
//
// # Isolation
//
// Transactions run at READ COMMITTED, and every write whose outcome
// depends on the current state is one conditional statement or follows a
// row lock: a refresh token is spent by UPDATE ... WHERE spent_at IS NULL
// after the session row is locked, a session is revoked by UPDATE ...
// WHERE revoked_at IS NULL, a user is read FOR UPDATE before fn changes
// it. At READ COMMITTED a statement that waited for a row lock re-checks
// its WHERE against the row as the other transaction committed it, so of
// two concurrent rotations of one token the second waits for the first's
// session row, then finds the token spent and gets ErrAlreadySpent, with
// no retry. SERIALIZABLE would reach the same outcome
// only through serialization failures and retries on the hottest path
// (two tabs refreshing at once), and would also abort concurrent revokers
// over their predicate locks on the feed; nothing here needs more than the
// row locks and the two explicit locks below.
//
// # Revocation order
//
// The revocation feed is read "seq > cursor" in seq order, so a seq must
// never become visible after a higher one. PostgreSQL assigns identity
// values when a row is inserted, not when its transaction commits: two
// revoking transactions could commit in the other order, and a guard that
// had read the higher seq would skip the lower one for ever. Every
// transaction that appends to the feed therefore takes one
// transaction-level advisory lock (feedLock) as its first statement; the
// lock is released only after the commit is visible, so seqs are assigned
// and committed in the same order. RevocationHead reads a one-row table
// that each append moves under the same lock, so the head never counts a
// seq that is not yet visible. Revocations are rare (logout, admin
// action), so serialising them costs nothing that matters; rotations and
// logins never take the lock.
//
// Signing keys are added under a table lock for the same reason in
// another guise: AddSigningKey is a compare-and-set on the newest key, and
// the check and the insert must be one step across nodes, as they are in
// SQLite's one-writer world; READ COMMITTED alone would let two nodes both
// find the same newest key.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/gatehouse-auth/gatehouse/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options tune Open.
type Options struct {
	// MigrateOnStart applies pending migrations before Open returns. When
	// false, Open refuses a database whose schema is older than this
	// binary's, so that migrations can be run once, by an operator or a
	// release job (gatehouse migrate), instead of by every node.
	MigrateOnStart bool
	// RequireSchema refuses a database that was never migrated (no
	// applied migration in goose's version table), before anything is
	// created in it: the commands that only use a database must not set
	// one up in whatever schema the URL happens to lead to.
	RequireSchema bool
}

// DB is an open Gatehouse database on PostgreSQL.
type DB struct {
	pool *pgxpool.Pool
}

// Open connects to the database at dsn (a postgres:// URL or a libpq
// key=value string) and, with opts.MigrateOnStart, applies pending
// migrations. Several nodes may open one database at once: migrations run
// under a session-level advisory lock, so one node applies them and the
// others wait and find nothing left to do.
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgconn's parse errors already redact a password in the DSN.
		return nil, fmt.Errorf("postgres: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db := &DB{pool: pool}
	// Connect now, so that a wrong host or password is reported as such
	// rather than as a failed migration.
	if err := db.Ping(ctx); err != nil {
		_ = db.Close() // always nil: the pool's Close returns nothing
		return nil, err
	}
	if opts.RequireSchema {
		err = db.requireSchema(ctx)
	}
	if err != nil {
		_ = db.Close() // always nil: the pool's Close returns nothing
		return nil, err
	}
	if opts.MigrateOnStart {
		_, err = db.Migrate(ctx)
	} else {
		err = db.checkVersion(ctx)
	}
	if err != nil {
		_ = db.Close() // always nil: the pool's Close returns nothing
		return nil, err
	}
	return db, nil
}

// migrationLockID is the session-level advisory lock key that migrations
// run under: "gatehouse" in ASCII, rather than goose's default, so that
// another goose-managed application sharing the database does not wait on
// Gatehouse's migrations or the other way round.
const migrationLockID int64 = 0x67_61_74_65_68_6f_75_73

func (db *DB) provider() (*goose.Provider, func() error, error) {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: migrations: %w", err)
	}
	// Retry the lock every second for up to ten minutes: a node that
	// starts while another migrates waits for it rather than failing.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrationLockID), lock.WithLockTimeout(1, 600))
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: migrations: %w", err)
	}
	// goose speaks database/sql; this one shares the pool's connections.
	sqlDB := stdlib.OpenDBFromPool(db.pool)
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, fsys, goose.WithSessionLocker(locker))
	if err != nil {
		_ = sqlDB.Close() // err is the one to report
		return nil, nil, fmt.Errorf("postgres: migrations: %w", err)
	}
	return p, sqlDB.Close, nil
}

// Migrate applies every pending migration and returns the schema version
// the database is at afterwards.
func (db *DB) Migrate(ctx context.Context) (int64, error) {
	p, done, err := db.provider()
	if err != nil {
		return 0, err
	}
	defer done()
	if _, err := p.Up(ctx); err != nil {
		return 0, fmt.Errorf("postgres: migrate: %w", err)
	}
	v, err := p.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("postgres: schema version: %w", err)
	}
	return v, nil
}

// SchemaVersion returns the version of the last migration applied.
func (db *DB) SchemaVersion(ctx context.Context) (int64, error) {
	p, done, err := db.provider()
	if err != nil {
		return 0, err
	}
	defer done()
	v, err := p.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("postgres: schema version: %w", err)
	}
	return v, nil
}

// checkVersion refuses a schema older than the newest migration this
// binary carries. A newer schema is accepted: migrations only add, so a
// node of the previous release keeps working while the next one rolls out.
func (db *DB) checkVersion(ctx context.Context) error {
	p, done, err := db.provider()
	if err != nil {
		return err
	}
	defer done()
	have, err := p.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("postgres: schema version: %w", err)
	}
	srcs := p.ListSources()
	if want := srcs[len(srcs)-1].Version; have < want {
		return fmt.Errorf("postgres: the database schema is at version %d and this binary needs %d: run gatehouse migrate (or set migrate_on_start)", have, want)
	}
	return nil
}

// requireSchema refuses a database in which no migration was ever
// applied. It only reads: goose itself would create its version table.
func (db *DB) requireSchema(ctx context.Context) error {
	// goose.DefaultTablename, the table provider() lets goose use.
	var migrated bool
	err := db.pool.QueryRow(ctx, `SELECT to_regclass('goose_db_version') IS NOT NULL`).Scan(&migrated)
	if err == nil && migrated {
		err = db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM goose_db_version WHERE version_id > 0 AND is_applied)`).Scan(&migrated)
	}
	if err != nil {
		return fmt.Errorf("postgres: schema version: %w", formatError(err))
	}
	if !migrated {
		return errors.New("postgres: the database has no Gatehouse schema (it was never migrated): only serve and migrate create one; " +
			"run gatehouse migrate, or check database (GATEHOUSE_DATABASE) and its search_path")
	}
	return nil
}

// Close closes the pool.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return formatError(err)
	}
	return nil
}

// maxAttempts bounds how often tx runs a transaction that PostgreSQL
// aborted as a deadlock victim: the aborted attempt wrote nothing, and a
// deadlock (two bulk statements locking session rows in different orders)
// is a matter of timing that a second attempt does not meet again.
const maxAttempts = 3

// tx runs fn in one READ COMMITTED transaction, committing if it returns
// nil. fn may run again, whole, if PostgreSQL aborts the transaction as a
// deadlock victim or serialization failure; it must not have effects
// outside the transaction that a second run would repeat.
func (db *DB) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	var err error
	for range maxAttempts {
		err = pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, fn)
		if !retryable(err) {
			break
		}
	}
	return formatError(err)
}

// feedLock is the key of the transaction-level advisory lock taken first
// by every transaction that appends to the revocation feed (see the
// package comment): "gh feed " in ASCII.
const feedLock int64 = 0x67_68_20_66_65_65_64_20

// feedTx is tx for a transaction that may append to the revocation feed:
// it takes feedLock before fn runs. The lock comes first, before any row
// lock, so that no transaction holds a session row while waiting for it
// and no deadlock can form between two revokers.
func (db *DB) feedTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		if err := lockFeed(ctx, tx); err != nil {
			return err
		}
		return fn(tx)
	})
}

// lockFeed takes feedLock until tx ends.
func lockFeed(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, feedLock)
	return err
}

// appendFeed runs insert, an INSERT INTO revocations ... RETURNING seq,
// moves revocation_head to the highest seq it returned, notifies
// NotifyChannel, and returns how many entries it appended. It must run
// inside feedTx. The notification is part of the transaction: PostgreSQL
// delivers it on commit and drops it on rollback, so a listening node
// never polls before the entries are visible, nor for entries that never
// were.
func appendFeed(ctx context.Context, tx pgx.Tx, insert string, args ...any) (int, error) {
	rows, err := tx.Query(ctx, insert, args...)
	if err != nil {
		return 0, err
	}
	seqs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil || len(seqs) == 0 {
		return 0, err
	}
	head := slices.Max(seqs)
	if _, err := tx.Exec(ctx, `UPDATE revocation_head SET seq = greatest(seq, $1)`, head); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, NotifyChannel, strconv.FormatInt(head, 10)); err != nil {
		return 0, err
	}
	return len(seqs), nil
}

// retryable reports whether err aborted a transaction that may simply be
// run again: deadlock_detected, or serialization_failure should a caller
// ever run at a stricter level.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

// formatError maps driver errors to the store's sentinel errors, leaving
// errors that already are one (or fn's own errors) as they are.
func formatError(err error) error {
	if err == nil {
		return nil
	}
	var ours *passThrough
	if errors.As(err, &ours) {
		return ours.err
	}
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrAlreadySpent) ||
		errors.Is(err, store.ErrLeaseLost) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w", store.ErrNotFound)
	}
	if unavailable(err) {
		return fmt.Errorf("postgres: %w: %w", store.ErrUnavailable, err)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" { // unique_violation
		return fmt.Errorf("%w: %v", store.ErrConflict, err)
	}
	return fmt.Errorf("postgres: %w", err)
}

// passThrough carries an error of the caller's (UpdateUser's fn) through
// tx unchanged.
type passThrough struct{ err error }

func (p *passThrough) Error() string { return p.err.Error() }
func (p *passThrough) Unwrap() error { return p.err }

// ts is a nullable timestamptz argument: the zero time is NULL.
func ts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// fromTS reads a nullable timestamptz, in UTC as the sqlite backend
// returns times; NULL is the zero time.
func fromTS(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// limit caps a page size: 0 or anything over 1000 means 1000.
func limit(n int) int {
	if n <= 0 || n > 1000 {
		return 1000
	}
	return n
}
