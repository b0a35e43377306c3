// Package pgtest gives tests PostgreSQL schemas of their own: one
// database is created for a run of a package's tests, on the server
// GATEHOUSE_TEST_POSTGRES names (default: the postgres superuser over
// TCP on 127.0.0.1:5432, as CI provides), each Schema call creates a
// fresh schema in it, and Main drops the database when the tests end.
//
// When the server cannot be reached, tests are skipped with a message
// saying that the PostgreSQL suite did not run, or, under CI=true, fail:
// CI must never pass without it.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// defaultTestDSN is the server the tests use unless GATEHOUSE_TEST_POSTGRES
// names another (a postgres:// URL; its database is only connected to, to
// create and drop the tests' own).
const defaultTestDSN = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// testServer is the database created for this run of the tests, once, by
// the first test that needs it; Main drops it.
var testServer struct {
	once    sync.Once
	admin   string // DSN of the server's maintenance database
	dsn     string // DSN of the run's database
	name    string
	err     error
	schemas atomic.Int64
}

// Main runs the package's tests and then drops the run's database, if one
// was created: call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if testServer.name != "" {
		if err := dropDatabase(testServer.admin, testServer.name); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// Require returns the DSN of the database created for this run of the
// tests, creating it on first use. When the server cannot be reached the
// test is skipped, loudly, or fails under CI, where the suite must run.
func Require(t testing.TB) string {
	t.Helper()
	testServer.once.Do(func() {
		admin := os.Getenv("GATEHOUSE_TEST_POSTGRES")
		if admin == "" {
			admin = defaultTestDSN
		}
		testServer.admin = admin
		testServer.name, testServer.dsn, testServer.err = createDatabase(admin)
	})
	if err := testServer.err; err != nil {
		msg := fmt.Sprintf("PostgreSQL not reachable at %s (%v): the PostgreSQL conformance suite did NOT run; "+
			"start PostgreSQL there or set GATEHOUSE_TEST_POSTGRES", redact(testServer.admin), err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return testServer.dsn
}

// createDatabase creates gatehouse_test_<random> on the server of admin.
// It asks for an ICU en-US collation that ignores punctuation (ka-shifted,
// as glibc's en_US does) when the server has ICU: under it "a_b" sorts
// after "aab", so the suite's bytewise ordering tests fail unless the
// schema's COLLATE "C" does its job. The server's own default is often C
// already, which would hide such a mistake.
func createDatabase(admin string) (name, dsn string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", "", err
	}
	defer conn.Close(ctx)
	name = "gatehouse_test_" + randomHex(6)
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+ident+` TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US-u-ka-shifted'`); err != nil {
		if _, err := conn.Exec(ctx, `CREATE DATABASE `+ident); err != nil {
			return "", "", fmt.Errorf("create database %s: %w", name, err)
		}
	}
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		_ = dropDatabase(admin, name) // best effort: the URL error is the one to report
		return "", "", fmt.Errorf("GATEHOUSE_TEST_POSTGRES must be a postgres:// URL")
	}
	u.Path = "/" + name
	return name, u.String(), nil
}

func dropDatabase(admin, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return fmt.Errorf("drop test database %s: %w", name, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{name}.Sanitize()+` WITH (FORCE)`); err != nil {
		return fmt.Errorf("drop test database %s: %w", name, err)
	}
	return nil
}

// Schema creates an empty schema in the run's database and returns a
// DSN whose connections use it (search_path, a run-time parameter pgx
// sends at connection start), so every store opened on it, migrations
// and goose's version table included, is separate from every other.
func Schema(t testing.TB) string {
	t.Helper()
	dsn := Require(t)
	schema := fmt.Sprintf("s%d_%s", testServer.schemas.Add(1), randomHex(3))
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(dsn)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// redact hides a password in a DSN for messages.
func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		return u.Redacted()
	}
	return dsn
}
