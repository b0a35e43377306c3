package sqlite

import (
	"context"
	"database/sql"

	"github.com/gatehouse-auth/gatehouse/internal/store"
)

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func appendAudit(ctx context.Context, x execer, ev store.AuditEvent) error {
	if ev.Type == "" {
		return nil
	}
	_, err := x.ExecContext(ctx, `INSERT INTO audit_events (at, type, actor_id, user_id, session_id, ip, user_agent, outcome, detail)
		VALUES (?,?,?,?,?,?,?,?,?)`, ts(ev.Time), ev.Type, ev.ActorID, ev.UserID, ev.SessionID, ev.IP, ev.UserAgent, ev.Outcome, ev.Detail)
	return formatError(err)
}

// AppendAudit stores one audit event.
func (db *DB) AppendAudit(ctx context.Context, ev store.AuditEvent) error {
	return appendAudit(ctx, db.w, ev)
}

// AuditEvents returns the events matching f, newest first.
func (db *DB) AuditEvents(ctx context.Context, f store.AuditFilter) ([]store.AuditEvent, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, at, type, actor_id, user_id, session_id, ip, user_agent, outcome, detail
		FROM audit_events
		WHERE (? = '' OR type = ?) AND (? = '' OR user_id = ?) AND (? = '' OR actor_id = ?)
		AND (? = '' OR session_id = ?) AND (? IS NULL OR at >= ?) AND (? IS NULL OR at < ?)
		AND (? = 0 OR id < ?)
		ORDER BY id DESC LIMIT ?`,
		f.Type, f.Type, f.UserID, f.UserID, f.ActorID, f.ActorID, f.SessionID, f.SessionID,
		ts(f.Since), ts(f.Since), ts(f.Until), ts(f.Until), f.BeforeID, f.BeforeID, limit(f.Limit))
	if err != nil {
		return nil, formatError(err)
	}
	defer rows.Close()
	var out []store.AuditEvent
	for rows.Next() {
		var (
			ev store.AuditEvent
			at sql.NullInt64
		)
		if err := rows.Scan(&ev.ID, &at, &ev.Type, &ev.ActorID, &ev.UserID, &ev.SessionID, &ev.IP, &ev.UserAgent, &ev.Outcome, &ev.Detail); err != nil {
			return nil, formatError(err)
		}
		ev.Time = fromTS(at)
		out = append(out, ev)
	}
	return out, formatError(rows.Err())
}

// limit caps a page size: 0 or anything over 1000 means 1000.
func limit(n int) int {
	if n <= 0 || n > 1000 {
		return 1000
	}
	return n
}
