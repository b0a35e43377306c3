package guard

import (
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/revset"
)

// Revocations is the set of revoked session ids a guard refuses: make it
// with NewRevocations, keep it up to date with FollowFeed, and set it as
// Config.Revocations. It is safe for concurrent use; lookups take a read
// lock and allocate nothing.
//
// Each entry carries the time after which no access token of its session
// can still be valid (the revocation time plus the token lifetime and the
// verifiers' leeway); past it the entry is dropped, so the set holds only
// what can still matter and stays small.
//
// The set also remembers when its feed last reached the server
// (LastContact), so a guard can tell a quiet feed from a broken one and
// fail closed.
type Revocations struct {
	// The set itself is internal/revset's: FollowFeed feeds it, and so,
	// inside Gatehouse, does the revocation hub, through revset.Of.
	handle
}

type handle = revset.Handle

// NewRevocations returns an empty set.
func NewRevocations() *Revocations { return &Revocations{revset.NewHandle()} }

// Revoked reports whether the session sid is revoked: for a connection
// that outlives its token's checks (a stream, a WebSocket), to end it when
// its session ends.
func (r *Revocations) Revoked(sid string) bool { return revset.Of(r).Revoked(sid) }

// LastContact returns when the feed last reached the server; the zero
// time if it never has. A guard stops trusting the set when it is older
// than Config.FeedMaxLag.
func (r *Revocations) LastContact() time.Time { return revset.Of(r).LastContact() }
