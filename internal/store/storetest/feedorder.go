package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// testRevocationFeedFollow follows the feed as a guard does, by cursor,
// while many revocations commit concurrently, and checks that it misses
// none: a backend that let a seq become visible after a higher one (a
// sequence value taken at insert by a transaction that commits later)
// would have the follower move its cursor past the lower seq for ever.
// It also checks the head as the revocation hub uses it, as a starting
// cursor: every seq at or below a head just read must already be visible.
//
// The race it looks for needs a lower seq to commit after a higher one
// while the follower reads in between; it is likely over these many
// revocations, not certain, so a pass is evidence rather than proof.
// Backends should also test their ordering mechanism directly.
func testRevocationFeedFollow(t *testing.T, s Store) {
	ctx := context.Background()
	const (
		revokers = 8
		each     = 25
	)
	for r := range revokers {
		uid := fmt.Sprintf("u%d", r)
		mustCreateUser(t, s, user(uid, "user"+uid))
		for i := range each {
			id := fmt.Sprintf("s%d-%02d", r, i)
			mustCreateSession(t, s, session(id, uid, at(i)), hash("rt-"+id))
		}
	}

	var (
		wg   sync.WaitGroup
		done = make(chan struct{})
		seen = map[string]int{}
		// hidden: seqs at or below a head read while they were not
		// visible, with that head.
		hidden = map[int64]int64{}
	)
	wg.Add(1)
	go func() { // the follower
		defer wg.Done()
		var cursor int64
		follow := func() bool {
			rs, err := s.Revocations(ctx, cursor, 0)
			if err != nil {
				t.Error(err)
				return false
			}
			for _, r := range rs {
				seen[r.SessionID]++
				cursor = r.Seq
			}
			return true
		}
		for {
			select {
			case <-done:
				follow()
				return
			default:
			}
			if !follow() {
				return
			}
			head, err := s.RevocationHead(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			rs, err := s.Revocations(ctx, 0, 0)
			if err != nil {
				t.Error(err)
				return
			}
			visible := map[int64]bool{}
			for _, r := range rs {
				visible[r.Seq] = true
			}
			for seq := int64(1); seq <= head; seq++ {
				// A seq missing here may never have been used (a
				// rolled-back append); it must then never appear.
				if !visible[seq] {
					hidden[seq] = head
				}
			}
		}
	}()

	var revoking sync.WaitGroup
	for r := range revokers {
		revoking.Go(func() {
			for i := range each {
				id := fmt.Sprintf("s%d-%02d", r, i)
				var err error
				if i%5 == 4 {
					// Now and then a user-wide revocation, several seqs in one transaction.
					_, err = s.RevokeUserSessions(ctx, fmt.Sprintf("u%d", r), "", "force_logout", at(100+i), auditEvent(id))
				} else {
					err = s.RevokeSession(ctx, id, "logout", at(100+i), auditEvent(id))
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	revoking.Wait()
	close(done)
	wg.Wait()

	all := feedAfter(t, s, 0)
	if len(seen) != len(all) {
		var missed []string
		for _, r := range all {
			if seen[r.SessionID] == 0 {
				missed = append(missed, fmt.Sprintf("%s (seq %d)", r.SessionID, r.Seq))
			}
		}
		t.Errorf("the follower saw %d of %d entries; it missed %v", len(seen), len(all), missed)
	}
	for _, r := range all {
		if head, ok := hidden[r.Seq]; ok {
			t.Errorf("seq %d was not visible when the head read %d, and became visible later", r.Seq, head)
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("the follower saw %s %d times", id, n)
		}
	}
}

func auditEvent(sessionID string) store.AuditEvent {
	return store.AuditEvent{Time: t0, Type: "session_revoked", SessionID: sessionID, Outcome: "success"}
}
