package provider

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/session"
	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// ErrNoConsent: the user has not consented to the client.
var ErrNoConsent = fmt.Errorf("provider: no such consent: %w", store.ErrNotFound)

// ConsentView is a remembered consent as the user sees it: which
// application may do what, since when.
type ConsentView struct {
	ClientID   string    `json:"client_id"`
	ClientName string    `json:"client_name"`
	Scopes     []string  `json:"scopes"`
	GrantedAt  time.Time `json:"granted_at"`
}

// Consents lists the user's remembered consents, ordered by client id;
// a consent to a client since deleted is left out.
func (r *Registry) Consents(ctx context.Context, userID string) ([]ConsentView, error) {
	cs, err := r.st.Consents(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("provider: consents: %w", err)
	}
	out := make([]ConsentView, 0, len(cs))
	for _, c := range cs {
		cl, err := r.st.ClientByID(ctx, c.ClientID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, fmt.Errorf("provider: consents: %w", err)
		}
		scopes := c.Scopes
		if scopes == nil {
			scopes = []string{}
		}
		out = append(out, ConsentView{ClientID: c.ClientID, ClientName: cl.Name, Scopes: scopes, GrantedAt: c.GrantedAt.UTC()})
	}
	return out, nil
}

// RevokeConsent withdraws the user's consent to the client: the consent
// page shows again at the client's next request, and every session the
// user has with the client ends now, so no token granted under the
// consent outlives it. ErrNoConsent if there is none.
func (r *Registry) RevokeConsent(ctx context.Context, actor session.Actor, userID, clientID string) error {
	if err := r.st.DeleteConsent(ctx, userID, clientID); errors.Is(err, store.ErrNotFound) {
		return ErrNoConsent
	} else if err != nil {
		return fmt.Errorf("provider: revoke consent: %w", err)
	}
	r.audit.Record(ctx, store.AuditEvent{Type: "consent_revoked", ActorID: actor.ID, UserID: userID, Outcome: "success",
		Detail: "client " + clientID}, actor.Client)
	if _, err := r.audit.EndClientSessions(ctx, userID, clientID, "consent_revoked", actor.Client); err != nil {
		return fmt.Errorf("provider: revoke consent: %w", err)
	}
	return nil
}
