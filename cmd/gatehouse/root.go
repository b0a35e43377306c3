package main

import (
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse-auth/gatehouse/internal/app"
	"github.com/gatehouse-auth/gatehouse/internal/clock"
	"github.com/gatehouse-auth/gatehouse/internal/config"
)

// env carries what every command needs from the outside world.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// clock is the system clock; tests of the whole program may swap it.
	clock clock.Clock

	configPath string
	data       string
	// demo: serve --demo, the demo app beside the API.
	demo bool
}

func newRootCmd(getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	e := &env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr, clock: clock.System{}}
	root := &cobra.Command{
		Use:           "gatehouse",
		Short:         "Authentication and session server: login, rotating refresh tokens, CSRF-safe cookies",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetIn(stdin)
	root.PersistentFlags().StringVar(&e.configPath, "config", "", "YAML configuration file (env GATEHOUSE_CONFIG)")
	root.PersistentFlags().StringVar(&e.data, "data", "", "data directory: SQLite database and keys (env GATEHOUSE_DATA, default ./data)")
	root.Version = app.Build().Version
	root.SetVersionTemplate(app.Build().String())
	root.AddCommand(newVersionCmd(e), newServeCmd(e), newBFFCmd(e), newUserCmd(e), newSessionsCmd(e), newKeysCmd(e), newClientCmd(e), newMigrateCmd(e))
	return root
}

// load reads the configuration: defaults < file < environment < flags.
// Command-specific flags are applied by the command afterwards.
func (e *env) load(cmd *cobra.Command) (config.Config, error) {
	path := e.configPath
	if !cmd.Flags().Changed("config") {
		path = e.getenv("GATEHOUSE_CONFIG")
	}
	c, err := config.Load(path, e.getenv)
	if err != nil {
		return c, err
	}
	if cmd.Flags().Changed("data") {
		c.Data = e.data
	}
	return c, nil
}

func newLogger(w io.Writer, cfg config.Config) *slog.Logger {
	var lvl slog.Level
	// Validate has checked log_level; one it would refuse leaves Info.
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// oneLine folds an error into one line for the terminal.
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}
