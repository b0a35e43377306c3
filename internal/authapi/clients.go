package authapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/edge"
	"github.com/gatehouse-auth/gatehouse/internal/problem"
	"github.com/gatehouse-auth/gatehouse/internal/provider"
	"github.com/gatehouse-auth/gatehouse/internal/session"
)

// ClientRegistry is the OAuth 2.0 client registry (*provider.Registry),
// which the admin API registers clients through, under the same rules as
// `gatehouse client`.
type ClientRegistry interface {
	Add(ctx context.Context, actor session.Actor, spec provider.Spec) (provider.Client, string, error)
	Get(ctx context.Context, id string) (provider.Client, error)
	List(ctx context.Context) ([]provider.Client, error)
	RotateSecret(ctx context.Context, actor session.Actor, id string) (string, error)
	Delete(ctx context.Context, actor session.Actor, id string) error
	Consents(ctx context.Context, userID string) ([]provider.ConsentView, error)
	RevokeConsent(ctx context.Context, actor session.Actor, userID, clientID string) error
}

// createClientRequest is POST /admin/clients' body: the registration
// under RFC 7591 §2's names.
type createClientRequest struct {
	ClientName              string   `json:"client_name"`
	RedirectURIs            []string `json:"redirect_uris"`
	PostLogoutRedirectURIs  []string `json:"post_logout_redirect_uris"`
	GrantTypes              []string `json:"grant_types"`
	Scope                   string   `json:"scope"`
	Audiences               []string `json:"audiences"`
	BackchannelLogoutURI    string   `json:"backchannel_logout_uri"`
	Public                  bool     `json:"public"`
	FirstParty              bool     `json:"first_party"`
	RequirePAR              bool     `json:"require_pushed_authorization_requests"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	// AccessTokenTTL and RefreshTokenTTL are in seconds; 0 or absent
	// keeps the server's.
	AccessTokenTTL  int64 `json:"access_token_ttl"`
	RefreshTokenTTL int64 `json:"refresh_token_ttl"`
	// JWKS is a private_key_jwt client\'s public keys (RFC 7591 §2).
	JWKS json.RawMessage `json:"jwks"`
}

// registeredClient is the answer to a registration or a secret rotation:
// the metadata, and a confidential client's secret, shown only then.
type registeredClient struct {
	provider.Metadata
	ClientSecret string `json:"client_secret,omitempty"`
}

type clientsView struct {
	Clients []provider.Metadata `json:"clients"`
}

// handleAdminListClients serves GET /admin/clients.
func (s *Server) handleAdminListClients() http.Handler {
	return s.admin(func(w http.ResponseWriter, r *http.Request, c caller) {
		if _, err := query(r); err != nil {
			queryProblem(w, err)
			return
		}
		cs, err := s.clients.List(r.Context())
		if err != nil {
			s.engineError(w, r, err)
			return
		}
		s.engine.RecordAdminAccess(r.Context(), c.actor(s, r), "list_clients", "")
		edge.WriteJSON(w, http.StatusOK, clientsView{Clients: mapRows(cs, provider.MetadataOf)})
	})
}

// handleAdminCreateClient serves POST /admin/clients.
func (s *Server) handleAdminCreateClient() http.Handler {
	return s.admin(func(w http.ResponseWriter, r *http.Request, c caller) {
		var req createClientRequest
		empty, ok := s.decodeOrProblem(w, r, &req)
		if !ok {
			return
		}
		if empty {
			edge.WriteProblem(w, http.StatusBadRequest, problem.CodeInvalidMetadata, "client_name and redirect_uris are required")
			return
		}
		cl, secret, err := s.clients.Add(r.Context(), c.actor(s, r), provider.Spec{
			Name: req.ClientName, RedirectURIs: req.RedirectURIs, PostLogoutRedirectURIs: req.PostLogoutRedirectURIs,
			GrantTypes: req.GrantTypes, Scopes: strings.Fields(req.Scope), Audiences: req.Audiences,
			BackchannelLogoutURI: req.BackchannelLogoutURI, Public: req.Public, FirstParty: req.FirstParty,
			RequirePAR: req.RequirePAR, AuthMethod: req.TokenEndpointAuthMethod,
			AccessTokenTTL: seconds(req.AccessTokenTTL), RefreshTokenTTL: seconds(req.RefreshTokenTTL),
			JWKS: string(req.JWKS),
		})
		if err != nil {
			s.engineError(w, r, err)
			return
		}
		w.Header().Set("Location", "/admin/clients/"+url.PathEscape(cl.ID))
		edge.WriteJSON(w, http.StatusCreated, registeredClient{Metadata: provider.MetadataOf(cl), ClientSecret: secret})
	})
}

// handleAdminGetClient serves GET /admin/clients/{id}.
func (s *Server) handleAdminGetClient() http.Handler {
	return s.admin(func(w http.ResponseWriter, r *http.Request, c caller) {
		cl, err := s.clients.Get(r.Context(), r.PathValue("id"))
		if err != nil {
			s.engineError(w, r, err)
			return
		}
		s.engine.RecordAdminAccess(r.Context(), c.actor(s, r), "get_client", "")
		edge.WriteJSON(w, http.StatusOK, provider.MetadataOf(cl))
	})
}

// handleAdminDeleteClient serves DELETE /admin/clients/{id}.
func (s *Server) handleAdminDeleteClient() http.Handler {
	return s.admin(func(w http.ResponseWriter, r *http.Request, c caller) {
		if !s.noBody(w, r) {
			return
		}
		if err := s.clients.Delete(r.Context(), c.actor(s, r), r.PathValue("id")); err != nil {
			s.engineError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// handleAdminRotateClientSecret serves POST /admin/clients/{id}/secret:
// a new secret, shown only in this answer; the old one stops working.
func (s *Server) handleAdminRotateClientSecret() http.Handler {
	return s.admin(func(w http.ResponseWriter, r *http.Request, c caller) {
		if !s.noBody(w, r) {
			return
		}
		id := r.PathValue("id")
		secret, err := s.clients.RotateSecret(r.Context(), c.actor(s, r), id)
		if err != nil {
			s.engineError(w, r, err)
			return
		}
		cl, err := s.clients.Get(r.Context(), id)
		if err != nil {
			s.engineError(w, r, err)
			return
		}
		edge.WriteJSON(w, http.StatusOK, registeredClient{Metadata: provider.MetadataOf(cl), ClientSecret: secret})
	})
}

// seconds is n seconds, or -1s for a count that would overflow, which the
// registry refuses as negative.
func seconds(n int64) time.Duration {
	if n < 0 || n > int64(1<<62)/int64(time.Second) {
		return -time.Second
	}
	return time.Duration(n) * time.Second
}
