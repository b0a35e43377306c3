package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// TestUnavailableClassification: connection-level failures become
// store.ErrUnavailable (the server's 503), and nothing else does: a
// statement PostgreSQL refused is a fault, and a cancelled request is the
// client's doing.
func TestUnavailableClassification(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"admin_shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"crash_shutdown", &pgconn.PgError{Code: "57P02"}, true},
		{"cannot_connect_now", &pgconn.PgError{Code: "57P03"}, true},
		{"connection_failure", &pgconn.PgError{Code: "08006"}, true},
		{"connect error", fmt.Errorf("begin: %w", &pgconn.ConnectError{}), true},
		{"net error", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, true},
		{"unexpected EOF", fmt.Errorf("failed to receive message: %w", io.ErrUnexpectedEOF), true},
		{"conn closed", fmt.Errorf("x: %w", pgconn.ErrConnClosed), true},
		{"deadline", fmt.Errorf("acquire: %w", context.DeadlineExceeded), true},
		{"unique_violation", &pgconn.PgError{Code: "23505"}, false},
		{"syntax_error", &pgconn.PgError{Code: "42601"}, false},
		{"query_canceled", &pgconn.PgError{Code: "57014"}, false},
		{"cancelled by the client", context.Canceled, false},
		{"no rows", pgx.ErrNoRows, false},
	} {
		if got := errors.Is(formatError(c.err), store.ErrUnavailable); got != c.want {
			t.Errorf("%s: ErrUnavailable %v, want %v", c.name, got, c.want)
		}
	}
}

// TestUnavailableOnRefusedConnection: a server that refuses connections
// (nothing listens on the port) is ErrUnavailable at Open, and the
// message names neither the password nor the whole DSN.
func TestUnavailableOnRefusedConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	_, err = Open(context.Background(), "postgres://gatehouse:s3cret-pw@"+addr+"/gatehouse?sslmode=disable&connect_timeout=5",
		Options{MigrateOnStart: true})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Open on a refused port: %v, want store.ErrUnavailable", err)
	}
	if strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("the error shows the password: %v", err)
	}
}
