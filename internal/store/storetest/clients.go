package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// client is a confidential client with every field set. The lifetimes
// have a nanosecond part, which every backend must keep.
func client(id string) store.Client {
	return store.Client{
		ID:                      id,
		Name:                    "Client " + id,
		SecretHash:              hash("secret-" + id),
		FirstParty:              true,
		TokenEndpointAuthMethod: "client_secret_basic",
		RedirectURIs:            []string{"https://app.example/callback", "https://app.example/other"},
		PostLogoutRedirectURIs:  []string{"https://app.example/bye"},
		GrantTypes:              []string{"authorization_code", "refresh_token", "client_credentials"},
		Scopes:                  []string{"openid", "profile", "orders:read"},
		Audiences:               []string{"https://api.example", "https://billing.example"},
		BackchannelLogoutURI:    "https://app.example/backchannel-logout",
		RequirePAR:              true,
		AccessTokenTTL:          5*time.Minute + 7,
		RefreshTokenTTL:         30 * 24 * time.Hour,
		JWKS:                    `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"` + id + `"}]}`,
		CreatedAt:               at(0),
		UpdatedAt:               at(1),
	}
}

// publicClient is a public client (no secret) with as few fields set as
// a registration leaves.
func publicClient(id string) store.Client {
	return store.Client{
		ID:                      id,
		Name:                    "SPA " + id,
		Public:                  true,
		TokenEndpointAuthMethod: "none",
		RedirectURIs:            []string{"http://127.0.0.1/callback"},
		GrantTypes:              []string{"authorization_code"},
		CreatedAt:               at(2),
		UpdatedAt:               at(2),
	}
}

// normClient makes clients comparable with reflect.DeepEqual whatever
// location a backend returns times in and whether it returns an empty
// slice as nil.
func normClient(c store.Client) store.Client {
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	if len(c.SecretHash) == 0 {
		c.SecretHash = nil
	}
	for _, l := range []*[]string{&c.RedirectURIs, &c.PostLogoutRedirectURIs, &c.GrantTypes, &c.Scopes, &c.Audiences} {
		if len(*l) == 0 {
			*l = nil
		}
	}
	return c
}

func mustCreateClient(t *testing.T, s Store, c store.Client) {
	t.Helper()
	if err := s.CreateClient(context.Background(), c); err != nil {
		t.Fatalf("CreateClient(%s): %v", c.ID, err)
	}
}

func mustClient(t *testing.T, s Store, id string) store.Client {
	t.Helper()
	got, err := s.ClientByID(context.Background(), id)
	if err != nil {
		t.Fatalf("ClientByID(%s): %v", id, err)
	}
	return got
}

func clientIDs(cs []store.Client) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func testClients(t *testing.T, s Store) {
	ctx := context.Background()

	t.Run("empty list", func(t *testing.T) {
		got, err := s.ListClients(ctx)
		if err != nil || len(got) != 0 {
			t.Errorf("ListClients = %v, %v; want none", clientIDs(got), err)
		}
	})

	for _, c := range []store.Client{client("confidential"), publicClient("public")} {
		t.Run("round trip of "+c.ID, func(t *testing.T) {
			mustCreateClient(t, s, c)
			if got := mustClient(t, s, c.ID); !reflect.DeepEqual(normClient(got), normClient(c)) {
				t.Errorf("got  %+v\nwant %+v", got, c)
			}
		})
	}
	t.Run("a public client has no secret hash", func(t *testing.T) {
		if got := mustClient(t, s, "public"); len(got.SecretHash) != 0 || !got.Public {
			t.Errorf("public client read back with SecretHash %x, Public %v", got.SecretHash, got.Public)
		}
	})

	t.Run("duplicate id is a conflict", func(t *testing.T) {
		before := mustClient(t, s, "confidential")
		dup := publicClient("confidential")
		if err := s.CreateClient(ctx, dup); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("CreateClient(duplicate): err = %v, want ErrConflict", err)
		}
		if got := mustClient(t, s, "confidential"); !reflect.DeepEqual(normClient(got), normClient(before)) {
			t.Errorf("after the conflict: %+v\nwant %+v", got, before)
		}
	})

	t.Run("unknown id", func(t *testing.T) {
		if _, err := s.ClientByID(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ClientByID: err = %v, want ErrNotFound", err)
		}
		if err := s.DeleteClient(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("DeleteClient: err = %v, want ErrNotFound", err)
		}
	})

	t.Run("listed by id, byte by byte", func(t *testing.T) {
		// A case-insensitive or punctuation-ignoring collation would put
		// "Zeta" after the lower-case ids, or "c.a" before "c-b".
		for _, id := range []string{"c.a", "c-b", "Zeta", "c_a"} {
			mustCreateClient(t, s, client(id))
		}
		got, err := s.ListClients(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"Zeta", "c-b", "c.a", "c_a", "confidential", "public"}
		if ids := clientIDs(got); !reflect.DeepEqual(ids, want) {
			t.Fatalf("ListClients = %v, want %v", ids, want)
		}
		for _, c := range got {
			if stored := mustClient(t, s, c.ID); !reflect.DeepEqual(normClient(c), normClient(stored)) {
				t.Errorf("listed %+v\nby id  %+v", c, stored)
			}
		}
	})

	t.Run("delete", func(t *testing.T) {
		other := mustClient(t, s, "public")
		if err := s.DeleteClient(ctx, "confidential"); err != nil {
			t.Fatalf("DeleteClient: %v", err)
		}
		if _, err := s.ClientByID(ctx, "confidential"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ClientByID after delete: err = %v, want ErrNotFound", err)
		}
		if err := s.DeleteClient(ctx, "confidential"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("DeleteClient again: err = %v, want ErrNotFound", err)
		}
		if got := mustClient(t, s, "public"); !reflect.DeepEqual(normClient(got), normClient(other)) {
			t.Errorf("other client changed: %+v\nwant %+v", got, other)
		}
		got, err := s.ListClients(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ids := clientIDs(got); slices.Contains(ids, "confidential") {
			t.Errorf("ListClients after delete = %v", ids)
		}
	})
}

func testUpdateClient(t *testing.T, s Store) {
	ctx := context.Background()
	mustCreateClient(t, s, client("c1"))
	mustCreateClient(t, s, client("c2"))
	errBoom := errors.New("boom")

	tests := []struct {
		name    string
		id      string
		fn      func(*store.Client) error
		wantErr error
		want    func(store.Client) store.Client // the stored client afterwards, from the one before
	}{
		{
			name: "changes are written",
			id:   "c1",
			fn: func(c *store.Client) error {
				c.Name, c.SecretHash, c.FirstParty = "Renamed", hash("rotated"), false
				c.TokenEndpointAuthMethod = "client_secret_post"
				c.RedirectURIs = append(c.RedirectURIs, "https://app.example/third")
				c.PostLogoutRedirectURIs, c.Audiences = nil, []string{"https://api.example"}
				c.GrantTypes, c.Scopes = []string{"client_credentials"}, []string{"orders:write"}
				c.BackchannelLogoutURI, c.RequirePAR = "", false
				c.AccessTokenTTL, c.RefreshTokenTTL = time.Minute, 0
				c.UpdatedAt = at(60)
				return nil
			},
			want: func(c store.Client) store.Client {
				c.Name, c.SecretHash, c.FirstParty = "Renamed", hash("rotated"), false
				c.TokenEndpointAuthMethod = "client_secret_post"
				c.RedirectURIs = append(slices.Clone(c.RedirectURIs), "https://app.example/third")
				c.PostLogoutRedirectURIs, c.Audiences = nil, []string{"https://api.example"}
				c.GrantTypes, c.Scopes = []string{"client_credentials"}, []string{"orders:write"}
				c.BackchannelLogoutURI, c.RequirePAR = "", false
				c.AccessTokenTTL, c.RefreshTokenTTL = time.Minute, 0
				c.UpdatedAt = at(60)
				return c
			},
		},
		{
			name: "made public, the secret hash goes",
			id:   "c1",
			fn: func(c *store.Client) error {
				c.Public, c.SecretHash, c.TokenEndpointAuthMethod = true, nil, "none"
				return nil
			},
			want: func(c store.Client) store.Client {
				c.Public, c.SecretHash, c.TokenEndpointAuthMethod = true, nil, "none"
				return c
			},
		},
		{
			name: "fn error aborts with no change",
			id:   "c1",
			fn: func(c *store.Client) error {
				c.Name, c.RedirectURIs, c.UpdatedAt = "must-not-be-written", []string{"https://evil.example/"}, at(90)
				return fmt.Errorf("validating: %w", errBoom)
			},
			wantErr: errBoom,
			want:    func(c store.Client) store.Client { return c },
		},
		{
			// Otherwise fn could overwrite another client's row, or
			// rewrite when the client was registered.
			name: "the id and CreatedAt cannot be changed",
			id:   "c1",
			fn: func(c *store.Client) error {
				c.ID, c.CreatedAt, c.Name = "c2", at(999), "changed-through-c1"
				return nil
			},
			want: func(c store.Client) store.Client { c.Name = "changed-through-c1"; return c },
		},
		{
			name: "unknown id",
			id:   "nobody",
			fn: func(*store.Client) error {
				return errors.New("fn called for an unknown client")
			},
			wantErr: store.ErrNotFound,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := s.ClientByID(ctx, tt.id)
			other := mustClient(t, s, "c2")
			got, err := s.UpdateClient(ctx, tt.id, tt.fn)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("UpdateClient: err = %v, want %v", err, tt.wantErr)
			}
			if stored := mustClient(t, s, "c2"); !reflect.DeepEqual(normClient(stored), normClient(other)) {
				t.Errorf("c2 changed: %+v\nwant %+v", stored, other)
			}
			if tt.want == nil {
				return
			}
			want := tt.want(before)
			if err == nil && !reflect.DeepEqual(normClient(got), normClient(want)) {
				t.Errorf("returned %+v\nwant     %+v", got, want)
			}
			stored, err := s.ClientByID(ctx, tt.id)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(normClient(stored), normClient(want)) {
				t.Errorf("stored %+v\nwant   %+v", stored, want)
			}
		})
	}

	t.Run("fn's error is returned unchanged", func(t *testing.T) {
		_, err := s.UpdateClient(ctx, "c2", func(*store.Client) error { return errBoom })
		if !errors.Is(err, errBoom) {
			t.Errorf("err = %v, want %v", err, errBoom)
		}
	})

	// Read, change and write happen in one transaction: concurrent
	// appends lose none of each other's redirect URIs.
	t.Run("concurrent updates are serialised", func(t *testing.T) {
		const n = 10
		before := mustClient(t, s, "c2")
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				if _, err := s.UpdateClient(ctx, "c2", func(c *store.Client) error {
					c.RedirectURIs = append(c.RedirectURIs, fmt.Sprintf("https://app.example/cb/%d", i))
					return nil
				}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		after := mustClient(t, s, "c2")
		if got, want := len(after.RedirectURIs), len(before.RedirectURIs)+n; got != want {
			t.Errorf("%d redirect URIs after %d appends to %d, want %d: %v", got, n, len(before.RedirectURIs), want, after.RedirectURIs)
		}
		for i := range n {
			if uri := fmt.Sprintf("https://app.example/cb/%d", i); !slices.Contains(after.RedirectURIs, uri) {
				t.Errorf("lost %s: %v", uri, after.RedirectURIs)
			}
		}
	})
}
