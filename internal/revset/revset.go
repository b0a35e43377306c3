// Package revset is the revoked-session set behind guard.Revocations,
// with the methods that feed it. Package guard exports only what a
// resource server needs of the set (NewRevocations, Revoked,
// LastContact); what feeds it reaches it through Of: guard.FollowFeed in a
// resource server, and inside Gatehouse the revocation hub's Follow, which
// the composition root hands the in-process guard's set.
package revset

import (
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxLag is the guard's default Config.FeedMaxLag: how old the
// set's last contact may be before the guard stops trusting it. It is
// here for the composition root, which derives the in-process guard's
// limit from it.
const DefaultMaxLag = 30 * time.Second

// Set is the set of revoked session ids a guard refuses. It is safe for
// concurrent use; lookups take a read lock and allocate nothing.
//
// Each entry carries the time after which no access token of its session
// can still be valid (the revocation time plus the token lifetime and the
// verifiers' leeway); past it the entry is dropped, so the set holds only
// what can still matter and stays small.
//
// The set also remembers when its feed last reached the server (Touch), so
// a guard can tell a quiet feed from a broken one and fail closed.
type Set struct {
	mu      sync.RWMutex
	entries map[string]time.Time // sid -> drop after
	cursor  atomic.Int64         // feed position of the last entry added
	contact atomic.Int64         // unix nanoseconds of the last contact
	sweepAt time.Time            // next sweep of expired entries, under mu
}

// New returns an empty set.
func New() *Set {
	return &Set{entries: make(map[string]time.Time)}
}

// Add records that the session sid was revoked; the entry may be dropped
// after until. seq is the entry's position in the feed (0 when it has
// none); the set remembers the highest, for resuming the feed.
func (r *Set) Add(sid string, until time.Time, seq int64) {
	r.mu.Lock()
	if old, ok := r.entries[sid]; !ok || until.After(old) {
		r.entries[sid] = until
	}
	r.mu.Unlock()
	for {
		cur := r.cursor.Load()
		if seq <= cur || r.cursor.CompareAndSwap(cur, seq) {
			return
		}
	}
}

// Revoked reports whether the session sid is revoked.
func (r *Set) Revoked(sid string) bool {
	r.mu.RLock()
	_, ok := r.entries[sid]
	r.mu.RUnlock()
	return ok
}

// Cursor returns the feed position of the newest entry added, from which
// a feed resumes.
func (r *Set) Cursor() int64 { return r.cursor.Load() }

// ResetCursor sets the feed position back (to 0 for "from the start"),
// for a feed that finds the server's sequence behind the set's: the
// server's store was replaced, and its numbering starts again.
func (r *Set) ResetCursor(seq int64) { r.cursor.Store(seq) }

// Touch records that the feed reached the server at t, whether or not it
// brought new entries.
func (r *Set) Touch(t time.Time) { r.contact.Store(t.UnixNano()) }

// LastContact returns when the feed last reached the server; the zero
// time if it never has.
func (r *Set) LastContact() time.Time {
	n := r.contact.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// Len returns the number of entries held.
func (r *Set) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.entries)
}

// Sweep drops the entries whose tokens have all expired by now. It does
// the work at most once a minute however often it is called, so callers
// may call it on every feed event.
func (r *Set) Sweep(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Before(r.sweepAt) {
		return
	}
	r.sweepAt = now.Add(time.Minute)
	for sid, until := range r.entries {
		if now.After(until) {
			delete(r.entries, sid)
		}
	}
}

// Handle is what a guard.Revocations embeds: it holds the Set, and has
// no exported method, so the guard's API shows none of the Set's.
type Handle struct{ s *Set }

// NewHandle returns a Handle on a new, empty Set.
func NewHandle() Handle { return Handle{New()} }

func (h Handle) set() *Set { return h.s }

// Of returns the Set behind a *guard.Revocations (anything that embeds a
// Handle: the unexported method is promoted to it). It panics on nil.
func Of(h interface{ set() *Set }) *Set { return h.set() }
