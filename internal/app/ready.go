package app

import (
	"context"
	"fmt"
)

// NotReady names what keeps this serving process from serving, for
// GET /readyz: the database not answering (within the request's bound)
// or not migrated to this binary's schema, a signing key missing, the
// revocation feed silent for longer than the guard accepts. Nothing when
// it is ready.
func (a *App) NotReady(ctx context.Context) []string {
	var not []string
	v, err := a.DB.SchemaVersion(ctx)
	switch {
	case err != nil:
		not = append(not, "the database does not answer")
	case v < a.DB.LatestSchemaVersion():
		not = append(not, fmt.Sprintf("the database is at schema version %d, not %d: run gatehouse migrate", v, a.DB.LatestSchemaVersion()))
	}
	if err == nil {
		if _, err := a.Keys.Signing(ctx); err != nil {
			not = append(not, "no access-token signing key")
		}
		if _, err := a.IDKeys.Signing(ctx); err != nil {
			not = append(not, "no ID-token signing key")
		}
	}
	if a.web != nil {
		last := a.web.revoked.LastContact()
		if last.IsZero() || a.clock.Now().Sub(last) > feedMaxLag(a.cfg.RevocationPollInterval) {
			not = append(not, "the revocation feed is silent")
		}
	}
	return not
}
