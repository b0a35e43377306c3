package provider

import (
	"context"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// LogoutNotices is the storage of back-channel logout notices. A notice is
// created by the store with its session (CreateSession, for a client with
// a back-channel logout URI) and marked ended by the transactions that
// end sessions (RevokeSession, RevokeUserSessions, DeleteUser): see
// session.Store. Every backend is held to this contract by the
// conformance suite, on PostgreSQL across connections as several nodes
// would use it.
type LogoutNotices interface {
	// ClaimLogoutNotices, in one transaction: marks ended (EndedAt c.Now,
	// with the reason) every armed notice due at c.Now whose session is
	// no longer live at c.Now (revoked, gone, or past its absolute or idle
	// deadline, as store.SessionQuery.LiveAt tells); moves every other
	// armed due notice to its session's next deadline; then claims up to
	// c.Limit ended notices that are not done, are due at c.Now and are
	// held by no lease lasting past c.Now, oldest DueAt first, holding
	// them under c.Lease until c.LeaseUntil, and returns them so. Of
	// concurrent claims, on any node, no two get the same notice while a
	// lease holds it.
	ClaimLogoutNotices(ctx context.Context, c store.NoticeClaim) ([]store.LogoutNotice, error)
	// SettleLogoutNotice records r (a retry at r.RetryAt, or done at
	// r.DoneAt with r.Outcome) and releases the claim, provided r.Lease
	// still holds the notice; store.ErrNotFound, writing nothing, if it
	// does not (another claim took it after the lease lapsed, or it is
	// done).
	SettleLogoutNotice(ctx context.Context, r store.NoticeResult) error
	// LogoutNotice returns the session's notice, or store.ErrNotFound.
	LogoutNotice(ctx context.Context, sessionID string) (store.LogoutNotice, error)
	// PruneLogoutNotices deletes the notices done before before (one done
	// at before exactly is kept) and reports how many.
	PruneLogoutNotices(ctx context.Context, before time.Time) (int, error)
}
