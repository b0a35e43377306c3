package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// NotifyChannel is the channel every transaction that appends to the
// revocation feed notifies (pg_notify, delivered on commit). The payload
// is the highest seq the transaction appended; listeners need not read it,
// since they read the feed by cursor anyway. Channels are per database,
// not per schema: stores in other schemas of the same database wake each
// other's listeners, which costs a poll that finds nothing.
const NotifyChannel = "gatehouse_revocations"

// listenerAppName is the application_name of Listen's connection, so that
// an operator can tell it apart in pg_stat_activity (it is idle for as
// long as nobody revokes anything, by design).
const listenerAppName = "gatehouse revocation listener"

// listenIdleCheck is how long Listen waits for a notification before it
// pings its connection: a connection that died without the kernel noticing
// (a network partition, a failover that dropped no packet back) would
// otherwise be waited on for ever, and the node would fall back to its
// periodic poll without anyone being told.
const listenIdleCheck = 30 * time.Second

// Listen is the revocation hub's Waker on PostgreSQL: it opens a
// connection of its own, outside the pool (a LISTEN belongs to one
// session, and a pooled connection would be handed to other work),
// listens on NotifyChannel, calls wake once listening and then once per
// notification, until ctx ends or the connection fails. It returns
// ctx.Err() or the failure; the hub reconnects with back-off. Calling wake
// once listening is the catch-up after a reconnect: the poll it causes
// reads whatever was committed while nobody listened.
func (db *DB) Listen(ctx context.Context, wake func()) error {
	cfg := db.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = listenerAppName
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("postgres: listen: %w", err)
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = conn.Close(closeCtx) // Listen's own error is the one to return; a dead conn is dropped anyway
	}()
	if _, err := conn.Exec(ctx, `LISTEN `+pgx.Identifier{NotifyChannel}.Sanitize()); err != nil {
		return fmt.Errorf("postgres: listen: %w", err)
	}
	wake()
	for {
		waitCtx, cancel := context.WithTimeout(ctx, listenIdleCheck)
		_, err := conn.WaitForNotification(waitCtx)
		cancel()
		switch {
		case err == nil:
			wake()
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded):
			// Idle for listenIdleCheck: the deadline leaves the
			// connection usable, so it can be asked whether it is alive.
			pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := conn.Ping(pingCtx)
			cancel()
			if err != nil {
				return fmt.Errorf("postgres: listen: connection check: %w", err)
			}
		default:
			return fmt.Errorf("postgres: listen: %w", err)
		}
	}
}
