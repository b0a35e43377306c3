package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-auth/gatehouse/internal/app"
	"github.com/gatehouse-auth/gatehouse/internal/token"
)

func newKeysCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "List and rotate the signing keys of access tokens and ID tokens"}

	var (
		alg        string
		purpose    string
		activateIn time.Duration
		now        bool
	)
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Publish a new signing key now; it starts signing after --activate-in",
		Long: `Publish a new signing key. It appears in the JWKS at once and starts signing
after --activate-in (default: key_activation_delay, 10m), so that verifiers
caching the JWKS learn it before they see a token signed with it. The current
key signs until then and stays published until every token it signed has
expired, so rotation never logs anyone out. --now activates at once (for a
suspected key compromise; verifiers with a cached JWKS re-fetch on the
unknown kid).

Access-token keys and ID-token keys rotate apart: --purpose id rotates
the ID-token keys (default: access), and leaves the access keys as they
are, and the other way round.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if purpose != token.PurposeAccess && purpose != token.PurposeID {
				return fmt.Errorf("--purpose must be %s or %s", token.PurposeAccess, token.PurposeID)
			}
			return e.withApp(cmd, func(ctx context.Context, a *app.App) error {
				c, _ := e.load(cmd)
				keys, defaultAlg := a.Keys, c.SigningAlg
				if purpose == token.PurposeID {
					keys, defaultAlg = a.IDKeys, c.IDTokenSigningAlg
				}
				if alg == "" {
					alg = defaultAlg
				}
				delay := c.KeyActivationDelay
				if cmd.Flags().Changed("activate-in") {
					delay = activateIn
				}
				if now {
					delay = 0
				}
				if delay < 0 {
					return fmt.Errorf("--activate-in must not be negative")
				}
				k, err := keys.Rotate(ctx, alg, delay)
				if errors.Is(err, token.ErrRotationConflict) {
					// Someone else's key was added since this command read
					// the keys: adding another would rotate twice.
					return errors.New("another rotation happened first; no key was added (see gatehouse keys list)")
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "published key %s (%s, %s); it signs from %s\n", k.KID, purpose, k.Alg, k.ActivatesAt.Format(time.RFC3339))
				return nil
			})
		},
	}
	rotate.Flags().StringVar(&alg, "alg", "", "algorithm of the new key: ES256, EdDSA or RS256 (default: signing_alg, or id_token_signing_alg with --purpose id)")
	rotate.Flags().StringVar(&purpose, "purpose", token.PurposeAccess, "which keys to rotate: access (access tokens) or id (ID tokens)")
	rotate.Flags().DurationVar(&activateIn, "activate-in", 0, "delay before the new key signs (default: key_activation_delay)")
	rotate.Flags().BoolVar(&now, "now", false, "start signing with the new key at once")

	list := &cobra.Command{
		Use:   "list",
		Short: "List signing keys, their purpose and their state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withApp(cmd, func(ctx context.Context, a *app.App) error {
				keys, err := a.DB.SigningKeys(ctx)
				if err != nil {
					return err
				}
				t := e.clock.Now()
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "KID\tPURPOSE\tALG\tSTATE\tSIGNS FROM\tSIGNS UNTIL\tPUBLISHED UNTIL")
				for _, k := range keys {
					state := "signing"
					switch {
					case !k.ExpiresAt.IsZero() && !t.Before(k.ExpiresAt):
						state = "expired"
					case t.Before(k.ActivatesAt):
						state = "next"
					case !k.RetiresAt.IsZero() && !t.Before(k.RetiresAt):
						state = "retired"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.KID, k.PurposeOrAccess(), k.Alg, state, stamp(k.ActivatesAt), stamp(k.RetiresAt), stamp(k.ExpiresAt))
				}
				return tw.Flush()
			})
		},
	}
	cmd.AddCommand(rotate, list)
	return cmd
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.RFC3339)
}
