package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// execer is a pool or a transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// appendAudit stores ev through x; an event without a Type is no event.
func appendAudit(ctx context.Context, x execer, ev store.AuditEvent) error {
	if ev.Type == "" {
		return nil
	}
	_, err := x.Exec(ctx, `INSERT INTO audit_events (at, type, actor_id, user_id, session_id, ip, user_agent, outcome, detail)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`, ts(ev.Time), ev.Type, ev.ActorID, ev.UserID, ev.SessionID, ev.IP, ev.UserAgent, ev.Outcome, ev.Detail)
	return err
}

// AppendAudit stores one audit event.
func (db *DB) AppendAudit(ctx context.Context, ev store.AuditEvent) error {
	return formatError(appendAudit(ctx, db.pool, ev))
}

// AuditEvents returns the events matching f, newest first. Ids come from
// an identity column: within one transaction they ascend with time, and
// across nodes they are unique, which is all BeforeID paging needs.
func (db *DB) AuditEvents(ctx context.Context, f store.AuditFilter) ([]store.AuditEvent, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, at, type, actor_id, user_id, session_id, ip, user_agent, outcome, detail
		FROM audit_events
		WHERE ($1 = '' OR type = $1) AND ($2 = '' OR user_id = $2) AND ($3 = '' OR actor_id = $3)
		AND ($4 = '' OR session_id = $4) AND ($5::timestamptz IS NULL OR at >= $5) AND ($6::timestamptz IS NULL OR at < $6)
		AND ($7 = 0 OR id < $7)
		ORDER BY id DESC LIMIT $8`,
		f.Type, f.UserID, f.ActorID, f.SessionID, ts(f.Since), ts(f.Until), f.BeforeID, limit(f.Limit))
	if err != nil {
		return nil, formatError(err)
	}
	return collect(rows, func(row pgx.Row) (store.AuditEvent, error) {
		var ev store.AuditEvent
		if err := row.Scan(&ev.ID, &ev.Time, &ev.Type, &ev.ActorID, &ev.UserID, &ev.SessionID, &ev.IP, &ev.UserAgent, &ev.Outcome, &ev.Detail); err != nil {
			return ev, formatError(err)
		}
		ev.Time = ev.Time.UTC()
		return ev, nil
	})
}
