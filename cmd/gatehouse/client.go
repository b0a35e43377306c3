package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/gatehouse-auth/gatehouse/internal/app"
	"github.com/gatehouse-auth/gatehouse/internal/provider"
	"github.com/gatehouse-auth/gatehouse/internal/session"
)

// outputFlag is --output: "text" (default) or "json", which prints the
// answer and nothing else on standard output, for scripts.
func outputFlag(cmd *cobra.Command, v *string) {
	cmd.Flags().StringVar(v, "output", "text", `"text" or "json"`)
}

func checkOutput(v string) error {
	if v != "text" && v != "json" {
		return fmt.Errorf(`--output must be "text" or "json", not %q`, v)
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newClientCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "client", Short: "Register and manage OAuth 2.0 clients"}

	var (
		spec     provider.Spec
		scope    string
		output   string
		jwksFile string
	)
	add := &cobra.Command{
		Use:   "add NAME",
		Short: "Register a client; a confidential one's secret is printed once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			spec.Name, spec.Scopes = args[0], strings.Fields(scope)
			if jwksFile != "" {
				b, err := os.ReadFile(jwksFile) // #nosec G304 -- the operator names the file
				if err != nil {
					return err
				}
				spec.JWKS = string(b)
			}
			return e.withApp(cmd, func(ctx context.Context, a *app.App) error {
				c, secret, err := a.Clients.Add(ctx, session.CLI, spec)
				if err != nil {
					return err
				}
				if output == "json" {
					out := map[string]string{"client_id": c.ID}
					if secret != "" {
						out["client_secret"] = secret
					}
					return writeJSON(e.stdout, out)
				}
				fmt.Fprintf(e.stdout, "registered client %q: client_id %s\n", c.Name, c.ID)
				if secret != "" {
					fmt.Fprintf(e.stdout, "client_secret: %s\nThe secret is shown only now; a new one: gatehouse client rotate-secret %s\n", secret, c.ID)
				}
				return nil
			})
		},
	}
	fl := add.Flags()
	fl.StringArrayVar(&spec.RedirectURIs, "redirect-uri", nil, "redirect URI, matched exactly (repeatable)")
	fl.BoolVar(&spec.Public, "public", false, "a public client (SPA, native app, CLI): no secret, PKCE only")
	fl.StringSliceVar(&spec.GrantTypes, "grant", nil, "grant types: authorization_code,refresh_token,client_credentials (default authorization_code,refresh_token)")
	fl.StringVar(&scope, "scope", "", `scopes the client may ask for, space-separated (default "openid profile email offline_access")`)
	fl.StringArrayVar(&spec.Audiences, "audience", nil, "a resource server its access tokens may be for, an absolute URI (repeatable)")
	fl.StringVar(&spec.BackchannelLogoutURI, "backchannel-logout-uri", "", "where OpenID back-channel logout tokens are sent")
	fl.StringArrayVar(&spec.PostLogoutRedirectURIs, "post-logout-redirect-uri", nil, "where end-session may send the browser (repeatable)")
	fl.BoolVar(&spec.FirstParty, "first-party", false, "the operator's own client: no consent page")
	fl.BoolVar(&spec.RequirePAR, "require-par", false, "accept authorization requests only through pushed authorization requests (RFC 9126)")
	fl.StringVar(&spec.AuthMethod, "token-endpoint-auth-method", "", "client_secret_basic (default), client_secret_post or private_key_jwt")
	fl.StringVar(&jwksFile, "jwks", "", "a file holding the client's public keys as a JWK Set, for private_key_jwt")
	fl.DurationVar(&spec.AccessTokenTTL, "access-token-ttl", 0, "the client's access-token lifetime, shorter than access_token_ttl (default: the server's)")
	fl.DurationVar(&spec.RefreshTokenTTL, "refresh-token-ttl", 0, "the absolute lifetime of the client's sessions and refresh tokens, shorter than session_lifetime (default: the server's)")
	outputFlag(add, &output)

	list := &cobra.Command{
		Use:   "list",
		Short: "List clients",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			return e.withApp(cmd, func(ctx context.Context, a *app.App) error {
				cs, err := a.Clients.List(ctx)
				if err != nil {
					return err
				}
				if output == "json" {
					views := make([]provider.Metadata, 0, len(cs))
					for _, c := range cs {
						views = append(views, provider.MetadataOf(c))
					}
					return writeJSON(e.stdout, views)
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "CLIENT ID\tNAME\tTYPE\tGRANTS\tREDIRECT URIS")
				for _, c := range cs {
					kind := "confidential"
					if c.Public {
						kind = "public"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.ID, c.Name, kind, strings.Join(c.GrantTypes, ","), strings.Join(c.RedirectURIs, " "))
				}
				return tw.Flush()
			})
		},
	}
	outputFlag(list, &output)

	show := &cobra.Command{
		Use:   "show CLIENT_ID",
		Short: "Show a client's registration",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withApp(cmd, func(ctx context.Context, a *app.App) error {
				c, err := a.Clients.Get(ctx, args[0])
				if err != nil {
					return clientErr(args[0], err)
				}
				return writeJSON(e.stdout, provider.MetadataOf(c))
			})
		},
	}

	rotate := &cobra.Command{
		Use:   "rotate-secret CLIENT_ID",
		Short: "Give a confidential client a new secret, printed once; the old one stops working",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			return e.withApp(cmd, func(ctx context.Context, a *app.App) error {
				secret, err := a.Clients.RotateSecret(ctx, session.CLI, args[0])
				if err != nil {
					return clientErr(args[0], err)
				}
				if output == "json" {
					return writeJSON(e.stdout, map[string]string{"client_id": args[0], "client_secret": secret})
				}
				fmt.Fprintf(e.stdout, "client_secret: %s\n", secret)
				return nil
			})
		},
	}
	outputFlag(rotate, &output)

	del := &cobra.Command{
		Use:   "delete CLIENT_ID",
		Short: "Delete a client",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withApp(cmd, func(ctx context.Context, a *app.App) error {
				if err := a.Clients.Delete(ctx, session.CLI, args[0]); err != nil {
					return clientErr(args[0], err)
				}
				fmt.Fprintf(e.stdout, "deleted client %s\n", args[0])
				return nil
			})
		},
	}
	cmd.AddCommand(add, list, show, rotate, del)
	return cmd
}

// clientErr names the client an error is about.
func clientErr(id string, err error) error {
	switch {
	case errors.Is(err, provider.ErrUnknownClient):
		return fmt.Errorf("no client %q", id)
	case errors.Is(err, provider.ErrPublicClient):
		return fmt.Errorf("client %q is public: it has no secret", id)
	}
	return err
}
