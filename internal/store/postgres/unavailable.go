package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// unavailable reports whether err means the database could not be reached
// or dropped the connection, as opposed to refusing a statement: the
// difference between "try again in a moment" (store.ErrUnavailable, 503)
// and a fault to investigate (500). It is what a node sees while
// PostgreSQL restarts, fails over or is unreachable; pgxpool replaces the
// broken connections by itself, so the same request succeeds once the
// server is back.
func unavailable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "57P01", // admin_shutdown: pg_ctl stop/restart -m fast
			"57P02", // crash_shutdown: another backend crashed
			"57P03": // cannot_connect_now: starting up or shutting down
			return true
		}
		// Class 08, connection exception.
		return strings.HasPrefix(pe.Code, "08")
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.As(err, &ce), errors.As(err, &ne):
		// No connection could be made (refused, no route, DNS, TLS), or
		// a socket failed (reset, broken pipe, read timeout).
		return true
	case errors.Is(err, pgconn.ErrConnClosed):
		// pgx closed the connection after an earlier failure on it.
		return true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNREFUSED):
		// The server closed the connection mid-conversation.
		return true
	case errors.Is(err, context.DeadlineExceeded):
		// The request's deadline passed while waiting for a connection
		// (the pool was empty and connecting hung) or for an answer: the
		// database did not answer in time, which the client can retry.
		// Cancellation (the client went away) is not the database's
		// doing and stays as it is.
		return true
	}
	return false
}
