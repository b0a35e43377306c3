package sqlite

import (
	"context"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
)

// SchemaVersion returns the version of the last migration applied (Open
// applies every pending one), for `gatehouse migrate` to report.
func (db *DB) SchemaVersion(ctx context.Context) (int64, error) {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return 0, fmt.Errorf("sqlite: migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db.w, fsys)
	if err != nil {
		return 0, fmt.Errorf("sqlite: migrations: %w", err)
	}
	v, err := p.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("sqlite: schema version: %w", err)
	}
	return v, nil
}
