package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/gatehouse-auth/gatehouse/internal/app"
	"github.com/gatehouse-auth/gatehouse/internal/password"
	"github.com/gatehouse-auth/gatehouse/internal/session"
	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// withApp loads and resolves the configuration and opens the core for a
// command-line operation on the database (safe while the server runs:
// SQLite in WAL mode serialises the writers). The database must exist:
// only serve and migrate create one.
func (e *env) withApp(cmd *cobra.Command, fn func(ctx context.Context, a *app.App) error) error {
	c, err := e.load(cmd)
	if err != nil {
		return err
	}
	cfg, err := c.Resolve(c.Listen)
	if err != nil {
		return err
	}
	a, err := app.Open(cmd.Context(), cfg, app.Options{Clock: e.clock, Log: newLogger(io.Discard, c)})
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(cmd.Context(), a)
}

// readPassword reads one line from stdin, keeping every character but the
// line ending: leading and trailing spaces are part of a password.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReaderSize(io.LimitReader(r, password.MaxBytes+2), password.MaxBytes+2).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", errors.New("no password on standard input")
	}
	return line, nil
}

func newUserCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage users"}

	var (
		roles     []string
		fromStdin bool
	)
	add := &cobra.Command{
		Use:   "add NAME",
		Short: "Create a user (password from stdin, or generated and printed once)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, generated := "", false
			if fromStdin {
				var err error
				if pw, err = readPassword(e.stdin); err != nil {
					return err
				}
			} else {
				pw, generated = rand.Text(), true
			}
			return e.withApp(cmd, func(ctx context.Context, a *app.App) error {
				u, err := a.Engine.AddUser(ctx, session.CLI, args[0], pw, roles)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "created user %s (id %s)\n", u.Username, u.ID)
				if generated {
					fmt.Fprintf(e.stdout, "password: %s\n", pw)
				}
				return nil
			})
		},
	}
	add.Flags().StringArrayVar(&roles, "role", nil, "role to grant (repeatable)")
	add.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of standard input")

	list := &cobra.Command{
		Use:   "list",
		Short: "List users",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withApp(cmd, func(ctx context.Context, a *app.App) error {
				users, err := a.Engine.Users(ctx, store.UserQuery{})
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "USERNAME\tID\tROLES\tSTATUS\tCREATED")
				for _, u := range users {
					status := "enabled"
					if u.Disabled {
						status = "disabled"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Username, u.ID, strings.Join(u.Roles, ","), status,
						u.CreatedAt.Format("2006-01-02 15:04"))
				}
				return tw.Flush()
			})
		},
	}

	setDisabled := func(use, short string, disabled bool) *cobra.Command {
		return &cobra.Command{
			Use:   use + " NAME",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return e.withApp(cmd, func(ctx context.Context, a *app.App) error {
					u, err := a.Engine.User(ctx, args[0])
					if err != nil {
						return err
					}
					u, err = a.Engine.SetDisabled(ctx, session.CLI, u.ID, disabled)
					if err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "%sd user %s\n", use, u.Username)
					return nil
				})
			},
		}
	}

	var passwdStdin bool
	passwd := &cobra.Command{
		Use:   "passwd NAME",
		Short: "Set a user's password (from stdin) and end all the user's sessions",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !passwdStdin {
				return errors.New("--password-stdin is required")
			}
			pw, err := readPassword(e.stdin)
			if err != nil {
				return err
			}
			return e.withApp(cmd, func(ctx context.Context, a *app.App) error {
				u, err := a.Engine.User(ctx, args[0])
				if err != nil {
					return err
				}
				u, err = a.Engine.SetPassword(ctx, session.CLI, u.ID, pw)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "password changed for %s; all sessions ended\n", u.Username)
				return nil
			})
		},
	}
	passwd.Flags().BoolVar(&passwdStdin, "password-stdin", false, "read the password from the first line of standard input")

	var clear bool
	rolesCmd := &cobra.Command{
		Use:   "roles NAME [ROLE...]",
		Short: "Show a user's roles, or replace them with the ones given (--clear removes all)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withApp(cmd, func(ctx context.Context, a *app.App) error {
				if clear && len(args) > 1 {
					return errors.New("give roles or --clear, not both")
				}
				u, err := a.Engine.User(ctx, args[0])
				if err != nil {
					return err
				}
				if len(args) == 1 && !clear {
					fmt.Fprintln(e.stdout, strings.Join(u.Roles, " "))
					return nil
				}
				u, err = a.Engine.SetRoles(ctx, session.CLI, u.ID, args[1:])
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "roles of %s: %s\n", u.Username, strings.Join(u.Roles, " "))
				return nil
			})
		},
	}
	rolesCmd.Flags().BoolVar(&clear, "clear", false, "remove every role")

	cmd.AddCommand(add, list, setDisabled("disable", "Disable a user and end all the user's sessions", true),
		setDisabled("enable", "Enable a disabled user", false), passwd, rolesCmd)
	return cmd
}
