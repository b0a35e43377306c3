package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-auth/gatehouse/internal/app"
	"github.com/gatehouse-auth/gatehouse/internal/session"
	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// sessionRow is one session as `sessions list` shows it; the JSON form is
// the --json output.
type sessionRow struct {
	ID           string     `json:"id"`
	UserID       string     `json:"user_id"`
	Username     string     `json:"username"`
	Status       string     `json:"status"` // live, revoked or expired
	AuthTime     time.Time  `json:"auth_time"`
	CreatedAt    time.Time  `json:"created_at"`
	LastUsedAt   time.Time  `json:"last_used_at"`
	ExpiresAt    time.Time  `json:"expires_at"`
	Device       string     `json:"device"`
	IP           string     `json:"ip"`
	RevokedAt    *time.Time `json:"revoked_at,omitempty"`
	RevokeReason string     `json:"revoke_reason,omitempty"`
}

// allSessions pages through every session matching q: the store returns
// at most a page at a time.
func allSessions(ctx context.Context, a *app.App, q store.SessionQuery, live bool) ([]store.Session, error) {
	var out []store.Session
	for {
		page, err := a.Engine.Sessions(ctx, q, live)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if len(page) == 0 {
			return out, nil
		}
		q.After = page[len(page)-1].ID
	}
}

// listSessions returns the rows for `sessions list`: live sessions, or
// with all every session still on record. Liveness is the engine's own
// query, not recomputed here.
func listSessions(ctx context.Context, a *app.App, userID string, all bool) ([]sessionRow, error) {
	q := store.SessionQuery{UserID: userID}
	live, err := allSessions(ctx, a, q, true)
	if err != nil {
		return nil, err
	}
	shown := live
	if all {
		if shown, err = allSessions(ctx, a, q, false); err != nil {
			return nil, err
		}
	}
	isLive := make(map[string]bool, len(live))
	for _, s := range live {
		isLive[s.ID] = true
	}
	names := map[string]string{}
	rows := make([]sessionRow, 0, len(shown))
	for _, s := range shown {
		name, ok := names[s.UserID]
		if !ok {
			u, err := a.Engine.UserByID(ctx, s.UserID)
			if err != nil && !errors.Is(err, session.ErrUserNotFound) {
				return nil, err
			}
			name, names[s.UserID] = u.Username, u.Username
		}
		r := sessionRow{ID: s.ID, UserID: s.UserID, Username: name, Status: "live", AuthTime: s.AuthTime,
			CreatedAt: s.CreatedAt, LastUsedAt: s.LastUsedAt, ExpiresAt: s.ExpiresAt, Device: s.Device, IP: s.LastIP}
		switch {
		case isLive[s.ID]:
		case s.Revoked():
			r.Status, r.RevokedAt, r.RevokeReason = "revoked", &s.RevokedAt, s.RevokeReason
		default:
			r.Status = "expired"
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func newSessionsCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "sessions", Short: "List and end sessions"}

	var (
		listUser string
		all      bool
		asJSON   bool
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List live sessions (--all: ended ones too), newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withApp(cmd, func(ctx context.Context, a *app.App) error {
				userID := ""
				if cmd.Flags().Changed("user") {
					u, err := a.Engine.User(ctx, listUser)
					if err != nil {
						return err
					}
					userID = u.ID
				}
				rows, err := listSessions(ctx, a, userID, all)
				if err != nil {
					return err
				}
				a.Engine.RecordAdminAccess(ctx, session.CLI, "list sessions", userID)
				if asJSON {
					enc := json.NewEncoder(e.stdout)
					enc.SetIndent("", "  ")
					return enc.Encode(rows)
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tUSER\tSTATUS\tDEVICE\tIP\tCREATED\tLAST USED\tEXPIRES")
				for _, r := range rows {
					status := r.Status
					if r.RevokeReason != "" {
						status += " (" + r.RevokeReason + ")"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Username, status, r.Device, r.IP,
						minute(r.CreatedAt), minute(r.LastUsedAt), minute(r.ExpiresAt))
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().StringVar(&listUser, "user", "", "only this user's sessions")
	list.Flags().BoolVar(&all, "all", false, "include ended sessions (revoked or expired) still on record")
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")

	var revokeUser string
	revoke := &cobra.Command{
		Use:   "revoke {SESSION_ID | --user NAME}",
		Short: "End one session, or with --user every session of a user (force logout)",
		Args: func(cmd *cobra.Command, args []string) error {
			byUser := cmd.Flags().Changed("user")
			switch {
			case byUser && len(args) > 0:
				return errors.New("give a session id or --user, not both")
			case !byUser && len(args) != 1:
				return errors.New("give one session id, or --user NAME")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withApp(cmd, func(ctx context.Context, a *app.App) error {
				if len(args) == 0 {
					u, err := a.Engine.User(ctx, revokeUser)
					if err != nil {
						return err
					}
					n, err := a.Engine.ForceLogout(ctx, session.CLI, u.ID)
					if err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "ended %d session(s) of user %s\n", n, u.Username)
					return nil
				}
				s, err := a.Engine.RevokeSession(ctx, session.CLI, args[0], "")
				if err != nil {
					return err
				}
				if s.Revoked() {
					fmt.Fprintf(e.stdout, "session %s had already been revoked (%s)\n", s.ID, s.RevokeReason)
					return nil
				}
				fmt.Fprintf(e.stdout, "revoked session %s\n", s.ID)
				return nil
			})
		},
	}
	revoke.Flags().StringVar(&revokeUser, "user", "", "end every session of this user")

	cmd.AddCommand(list, revoke)
	return cmd
}

func minute(t time.Time) string { return t.Format("2006-01-02 15:04") }
