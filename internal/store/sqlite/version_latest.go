package sqlite

import (
	"fmt"
	"io/fs"
)

// LatestSchemaVersion is the version of the last migration this binary
// carries: a database at a lower version is not migrated yet (readiness
// says so), one at a higher was migrated by a newer binary.
func (db *DB) LatestSchemaVersion() int64 { return LatestVersion() }

// LatestVersion is LatestSchemaVersion without a database: what
// `gatehouse version` reports.
func LatestVersion() int64 {
	entries, err := fs.ReadDir(migrations, "migrations")
	if err != nil || len(entries) == 0 {
		return 0
	}
	var v int64
	_, _ = fmt.Sscanf(entries[len(entries)-1].Name(), "%d", &v) // the names are NNNNN_name.sql
	return v
}
