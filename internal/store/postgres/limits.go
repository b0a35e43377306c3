package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// The login limits' facts (limiter.Store, which the limiter declares over
// store.LoginFacts, and limits_test holds DB to), shared by every node so
// that a failure on one counts on all (migration 00004 explains the two
// tables). Each method is one statement: one query per login attempt, one
// write per failed login, one delete per successful one.

// LoginFailures returns the pair's run and the account's failures after
// since, in one query.
func (db *DB) LoginFailures(ctx context.Context, account, ip string, since time.Time) (store.LoginFacts, error) {
	var (
		pairN    pgtype.Int4
		pairLast pgtype.Timestamptz
		n        int64
		oldest   pgtype.Timestamptz
	)
	err := db.pool.QueryRow(ctx, `SELECT p.failures, p.last_failure, a.n, a.oldest
		FROM (SELECT count(*) AS n, min(at) AS oldest FROM login_failures WHERE account = $1 AND at > $3) a
		LEFT JOIN login_pairs p ON p.account = $1 AND p.ip = $2`,
		account, ip, since).Scan(&pairN, &pairLast, &n, &oldest)
	if err != nil {
		return store.LoginFacts{}, formatError(err)
	}
	return store.LoginFacts{
		Pair:    store.LoginPairFacts{Failures: int(pairN.Int32), Last: fromTS(pairLast)},
		Account: store.LoginAccountFacts{Failures: int(n), Oldest: fromTS(oldest)},
	}, nil
}

// RecordLoginFailure counts a failure of (account, ip) at at, in one
// statement: the pair's row is upserted (a run whose latest failure is
// before runStart restarts at one), a row is added for the account, and
// the facts after both come back. The pair's count is exact under
// concurrency, since failures of one pair queue on its row; the account's
// is the statement's snapshot plus this failure, so two nodes recording
// at the same instant may each miss the other's, which can double or drop
// the audit event of the ceiling's trip but never a decision: Allow reads
// what is committed.
func (db *DB) RecordLoginFailure(ctx context.Context, account, ip string, at, runStart, since time.Time) (store.LoginFacts, error) {
	var (
		pairN    int32
		pairLast time.Time
		n        int64
		oldest   time.Time
	)
	err := db.pool.QueryRow(ctx, `WITH p AS (
			INSERT INTO login_pairs AS lp (account, ip, failures, last_failure) VALUES ($1, $2, 1, $3)
			ON CONFLICT (account, ip) DO UPDATE SET
				failures = CASE WHEN lp.last_failure < $4 THEN 1 ELSE lp.failures + 1 END,
				last_failure = greatest(lp.last_failure, excluded.last_failure)
			RETURNING failures, last_failure
		), f AS (
			INSERT INTO login_failures (account, at) VALUES ($1, $3)
		), a AS (
			SELECT count(*) + 1 AS n, least(min(at), $3) AS oldest FROM login_failures WHERE account = $1 AND at > $5
		)
		SELECT p.failures, p.last_failure, a.n, a.oldest FROM p, a`,
		account, ip, at, runStart, since).Scan(&pairN, &pairLast, &n, &oldest)
	if err != nil {
		return store.LoginFacts{}, formatError(err)
	}
	return store.LoginFacts{
		Pair:    store.LoginPairFacts{Failures: int(pairN), Last: pairLast.UTC()},
		Account: store.LoginAccountFacts{Failures: int(n), Oldest: oldest.UTC()},
	}, nil
}

// ClearLoginPair deletes the pair's run. The account's rows stay.
func (db *DB) ClearLoginPair(ctx context.Context, account, ip string) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM login_pairs WHERE account = $1 AND ip = $2`, account, ip)
	return formatError(err)
}

// PruneLoginFailures deletes pairs idle since before runStart and account
// failures at or before since. Both are scans of small tables (a few
// hours of failures at most), once an hour per node; no index on the
// times is worth another index write on every failure.
func (db *DB) PruneLoginFailures(ctx context.Context, runStart, since time.Time) (int, error) {
	var n int64
	err := db.pool.QueryRow(ctx, `WITH p AS (
			DELETE FROM login_pairs WHERE last_failure < $1 RETURNING 1
		), f AS (
			DELETE FROM login_failures WHERE at <= $2 RETURNING 1
		)
		SELECT (SELECT count(*) FROM p) + (SELECT count(*) FROM f)`, runStart, since).Scan(&n)
	if err != nil {
		return 0, formatError(err)
	}
	return int(n), nil
}
