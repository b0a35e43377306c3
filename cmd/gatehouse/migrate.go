package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gatehouse-auth/gatehouse/internal/app"
	"github.com/gatehouse-auth/gatehouse/internal/config"
)

func newMigrateCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending database migrations and print the schema version",
		Long: `Apply every pending migration to the configured database and print the
schema version it is at. With PostgreSQL and migrate_on_start: false, run
this once per release, before the new nodes start; migrations run under an
advisory lock, so running it from several places at once is safe. SQLite
migrates whenever it is opened, so this only reports its version.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := e.load(cmd)
			if err != nil {
				return err
			}
			// The whole configuration is checked, as for every command, so
			// that a mistake elsewhere is not found only at serve.
			if _, err := c.Resolve(c.Listen); err != nil {
				return err
			}
			db, err := app.OpenDatabase(cmd.Context(), c, true)
			if err != nil {
				return err
			}
			defer db.Close()
			v, err := db.SchemaVersion(cmd.Context())
			if err != nil {
				return err
			}
			backend := "SQLite"
			if config.IsPostgres(c.Database) {
				backend = "PostgreSQL"
			}
			fmt.Fprintf(e.stdout, "%s database at schema version %d\n", backend, v)
			return nil
		},
	}
}
