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

// idle is the idle timeout the logout-notice tests claim with.
const idle = time.Hour

// bcClients registers bc, a client with a back-channel logout URI (the
// client fixture has one), and plain, which has none.
func bcClients(t *testing.T, s Store) {
	t.Helper()
	mustCreateClient(t, s, client("bc"))
	mustCreateClient(t, s, publicClient("plain"))
}

// sessionOf is the session fixture for a client.
func sessionOf(id, userID, clientID string, created time.Time) store.Session {
	sess := session(id, userID, created)
	sess.ClientID = clientID
	return sess
}

func normNotice(n store.LogoutNotice) store.LogoutNotice {
	n.DueAt, n.EndedAt, n.LeaseUntil, n.DoneAt = n.DueAt.UTC(), n.EndedAt.UTC(), n.LeaseUntil.UTC(), n.DoneAt.UTC()
	return n
}

func mustNotice(t *testing.T, s Store, sid string) store.LogoutNotice {
	t.Helper()
	n, err := s.LogoutNotice(context.Background(), sid)
	if err != nil {
		t.Fatalf("LogoutNotice(%s): %v", sid, err)
	}
	return normNotice(n)
}

func wantNotice(t *testing.T, s Store, want store.LogoutNotice) {
	t.Helper()
	if got := mustNotice(t, s, want.SessionID); !reflect.DeepEqual(got, normNotice(want)) {
		t.Errorf("notice of %s:\n got %+v\nwant %+v", want.SessionID, got, normNotice(want))
	}
}

// claim claims at now under lease until now+60 s.
func claim(t *testing.T, s Store, now time.Time, lease string) []store.LogoutNotice {
	t.Helper()
	ns, err := s.ClaimLogoutNotices(context.Background(), store.NoticeClaim{Now: now, IdleTimeout: idle,
		Lease: lease, LeaseUntil: now.Add(time.Minute)})
	if err != nil {
		t.Fatalf("ClaimLogoutNotices(%v, %s): %v", now, lease, err)
	}
	for i := range ns {
		ns[i] = normNotice(ns[i])
	}
	return ns
}

func claimedIDs(ns []store.LogoutNotice) []string {
	ids := []string{}
	for _, n := range ns {
		ids = append(ids, n.SessionID)
	}
	return ids
}

// testLogoutNotices: a session of a client with a back-channel URI has
// an armed notice from its start, and only such a session; a claim moves
// it to the session's deadline while the session is live; the
// revocation marks it ended; a claim holds it under a lease that another
// claim respects until it lapses; only the lease holder settles it, with
// a retry or for good.
func testLogoutNotices(t *testing.T, s Store) {
	ctx := context.Background()
	bcClients(t, s)
	mustCreateUser(t, s, user("u1", "alice"))
	mustCreateSession(t, s, sessionOf("s1", "u1", "bc", at(0)), hash("rt-s1"))
	mustCreateSession(t, s, sessionOf("s2", "u1", "plain", at(0)), hash("rt-s2"))
	mustCreateSession(t, s, session("s3", "u1", at(0)), hash("rt-s3")) // the first-party client, no registration
	armed := store.LogoutNotice{SessionID: "s1", ClientID: "bc", UserID: "u1", DueAt: at(0)}
	wantNotice(t, s, armed)
	for _, sid := range []string{"s2", "s3", "nope"} {
		if _, err := s.LogoutNotice(ctx, sid); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("LogoutNotice(%s) = %v, want ErrNotFound", sid, err)
		}
	}

	// Live: nothing to claim, and it is next looked at at its idle
	// deadline (before its absolute one).
	if got := claim(t, s, at(10), "L0"); len(got) != 0 {
		t.Fatalf("claimed %v of live sessions", claimedIDs(got))
	}
	armed.DueAt = at(0).Add(idle)
	wantNotice(t, s, armed)

	if err := s.RevokeSession(ctx, "s1", "logout", at(30), store.AuditEvent{}); err != nil {
		t.Fatal(err)
	}
	ended := armed
	ended.EndedAt, ended.Reason, ended.DueAt = at(30), "logout", at(30)
	wantNotice(t, s, ended)
	// A second revocation (of the ended session, or of all the user's)
	// changes nothing.
	if err := s.RevokeSession(ctx, "s1", "revoked_by_admin", at(35), store.AuditEvent{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RevokeUserSessions(ctx, "u1", "", "force_logout", at(36), store.AuditEvent{}); err != nil {
		t.Fatal(err)
	}
	wantNotice(t, s, ended)

	got := claim(t, s, at(40), "L1")
	held := ended
	held.Lease, held.LeaseUntil = "L1", at(100)
	if !reflect.DeepEqual(got, []store.LogoutNotice{held}) {
		t.Fatalf("claim:\n got %+v\nwant %+v", got, held)
	}
	if got := claim(t, s, at(50), "L2"); len(got) != 0 {
		t.Fatalf("a second claim under a live lease took %v", claimedIDs(got))
	}

	retry := store.NoticeResult{SessionID: "s1", Lease: "L2", Attempts: 1, RetryAt: at(200)}
	if err := s.SettleLogoutNotice(ctx, retry); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("settling under another lease: %v, want ErrNotFound", err)
	}
	wantNotice(t, s, held)
	retry.Lease = "L1"
	if err := s.SettleLogoutNotice(ctx, retry); err != nil {
		t.Fatal(err)
	}
	rescheduled := ended
	rescheduled.Attempts, rescheduled.DueAt = 1, at(200)
	wantNotice(t, s, rescheduled)
	if err := s.SettleLogoutNotice(ctx, retry); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("settling a released claim: %v, want ErrNotFound", err)
	}
	if got := claim(t, s, at(199), "L3"); len(got) != 0 {
		t.Fatalf("claimed %v before the retry is due", claimedIDs(got))
	}
	if got := claim(t, s, at(200), "L3"); len(got) != 1 || got[0].Lease != "L3" || got[0].Attempts != 1 {
		t.Fatalf("claim at the retry: %+v", got)
	}

	// The lease lapses (at 260): another claim takes the notice, and the
	// old holder cannot settle it any more.
	if got := claim(t, s, at(259), "L4"); len(got) != 0 {
		t.Fatalf("claimed %v under a live lease", claimedIDs(got))
	}
	if got := claim(t, s, at(260), "L4"); len(got) != 1 || got[0].Lease != "L4" {
		t.Fatalf("claim after the lease lapsed: %+v", got)
	}
	if err := s.SettleLogoutNotice(ctx, store.NoticeResult{SessionID: "s1", Lease: "L3", Attempts: 2,
		DoneAt: at(261), Outcome: store.NoticeSent}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("settling under a lapsed lease that was taken over: %v, want ErrNotFound", err)
	}
	if err := s.SettleLogoutNotice(ctx, store.NoticeResult{SessionID: "s1", Lease: "L4", Attempts: 2,
		DoneAt: at(262), Outcome: store.NoticeSent}); err != nil {
		t.Fatal(err)
	}
	done := rescheduled
	done.Attempts, done.DoneAt, done.Outcome = 2, at(262), store.NoticeSent
	wantNotice(t, s, done)
	if got := claim(t, s, at(10_000), "L5"); len(got) != 0 {
		t.Fatalf("claimed a done notice: %+v", got)
	}
	if err := s.SettleLogoutNotice(ctx, store.NoticeResult{SessionID: "s1", Lease: "L4", Attempts: 3,
		DoneAt: at(263), Outcome: store.NoticeFailed}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("settling a done notice: %v, want ErrNotFound", err)
	}
	wantNotice(t, s, done)

	for _, bad := range []store.NoticeResult{
		{SessionID: "s1", Attempts: 1, RetryAt: at(300)},                // no lease
		{SessionID: "s1", Lease: "L4", Attempts: 1},                     // neither a retry nor an outcome
		{SessionID: "s1", Lease: "L4", Attempts: 1, DoneAt: at(300)},    // no outcome
		{SessionID: "s1", Lease: "L4", Attempts: 1, Outcome: "dropped"}, // no time
	} {
		if err := s.SettleLogoutNotice(ctx, bad); err == nil || errors.Is(err, store.ErrNotFound) {
			t.Errorf("SettleLogoutNotice(%+v) = %v, want a refusal", bad, err)
		}
	}
	for _, bad := range []store.NoticeClaim{
		{Now: at(300), IdleTimeout: idle, LeaseUntil: at(360)},              // no lease
		{Now: at(300), IdleTimeout: idle, Lease: "L6", LeaseUntil: at(300)}, // a lease that never holds
	} {
		if _, err := s.ClaimLogoutNotices(ctx, bad); err == nil {
			t.Errorf("ClaimLogoutNotices(%+v) succeeded", bad)
		}
	}
}

// testLogoutNoticeDeadlines: a session that simply times out changes no
// row; the claim at its deadline finds it ended, idle or past its
// lifetime, and one used meanwhile is looked at again at its new
// deadline.
func testLogoutNoticeDeadlines(t *testing.T, s Store) {
	ctx := context.Background()
	bcClients(t, s)
	mustCreateUser(t, s, user("u1", "alice"))
	mustCreateSession(t, s, sessionOf("idle", "u1", "bc", at(0)), hash("rt-idle"))
	short := sessionOf("short", "u1", "bc", at(0))
	short.ExpiresAt = at(1800)
	mustCreateSession(t, s, short, hash("rt-short"))
	mustCreateSession(t, s, sessionOf("used", "u1", "bc", at(0)), hash("rt-used"))
	if got := claim(t, s, at(1), "L0"); len(got) != 0 {
		t.Fatalf("claimed %v of live sessions", claimedIDs(got))
	}
	for sid, due := range map[string]time.Time{"idle": at(3600), "short": at(1800), "used": at(3600)} {
		if n := mustNotice(t, s, sid); !n.DueAt.Equal(due) || !n.EndedAt.IsZero() {
			t.Errorf("notice of %s: %+v, want armed until %v", sid, n, due)
		}
	}
	if got := claim(t, s, at(1799), "L1"); len(got) != 0 {
		t.Fatalf("claimed %v before any deadline", claimedIDs(got))
	}
	// At the deadline exactly the session has ended (as LiveAt has it).
	got := claim(t, s, at(1800), "L2")
	if len(got) != 1 || got[0].SessionID != "short" || got[0].Reason != "lifetime_exceeded" || !got[0].EndedAt.Equal(at(1800)) {
		t.Fatalf("claim at the lifetime's end: %+v", got)
	}
	settleSent(t, s, got, at(1801))
	if err := s.RotateRefreshToken(ctx, rotation("rt-used", "rt-used-2", "used", at(3000))); err != nil {
		t.Fatal(err)
	}
	got = claim(t, s, at(3600), "L3")
	if len(got) != 1 || got[0].SessionID != "idle" || got[0].Reason != "idle_timeout" {
		t.Fatalf("claim at the idle deadline: %+v", got)
	}
	if n := mustNotice(t, s, "used"); !n.DueAt.Equal(at(3000).Add(idle)) || !n.EndedAt.IsZero() {
		t.Errorf("notice of the session used meanwhile: %+v, want armed until %v", n, at(3000).Add(idle))
	}
	// A revocation after the claim found it ended changes nothing: one
	// notice, one reason.
	if err := s.RevokeSession(ctx, "idle", "revoked_by_admin", at(3700), store.AuditEvent{}); err != nil {
		t.Fatal(err)
	}
	if n := mustNotice(t, s, "idle"); n.Reason != "idle_timeout" || !n.EndedAt.Equal(at(3600)) || n.Lease != "L3" {
		t.Errorf("notice after a late revocation: %+v", n)
	}

}

// testLogoutNoticeEnds: every way the store ends sessions ends their
// notices, with the reason, and a deleted user's notices outlive the
// user and its sessions; a session pruned before any claim saw it end is
// found gone.
func testLogoutNoticeEnds(t *testing.T, s Store) {
	ctx := context.Background()
	bcClients(t, s)
	mustCreateUser(t, s, user("u1", "alice"))
	mustCreateUser(t, s, user("u2", "bob"))
	for _, sid := range []string{"a1", "a2", "a3"} {
		mustCreateSession(t, s, sessionOf(sid, "u1", "bc", at(0)), hash("rt-"+sid))
	}
	mustCreateSession(t, s, sessionOf("b1", "u2", "bc", at(0)), hash("rt-b1"))
	if n, err := s.RevokeUserSessions(ctx, "u1", "a1", "logout_all", at(10), store.AuditEvent{}); err != nil || n != 2 {
		t.Fatalf("RevokeUserSessions = %d, %v", n, err)
	}
	for _, sid := range []string{"a2", "a3"} {
		wantNotice(t, s, store.LogoutNotice{SessionID: sid, ClientID: "bc", UserID: "u1", DueAt: at(10), EndedAt: at(10), Reason: "logout_all"})
	}
	wantNotice(t, s, store.LogoutNotice{SessionID: "a1", ClientID: "bc", UserID: "u1", DueAt: at(0)})

	if err := s.DeleteUser(ctx, "u1", at(20), store.AuditEvent{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionByID(ctx, "a1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the deleted user's session: %v", err)
	}
	wantNotice(t, s, store.LogoutNotice{SessionID: "a1", ClientID: "bc", UserID: "u1", DueAt: at(20), EndedAt: at(20), Reason: "user_deleted"})
	wantNotice(t, s, store.LogoutNotice{SessionID: "a2", ClientID: "bc", UserID: "u1", DueAt: at(10), EndedAt: at(10), Reason: "logout_all"})
	wantNotice(t, s, store.LogoutNotice{SessionID: "b1", ClientID: "bc", UserID: "u2", DueAt: at(0)})
	if err := s.DeleteUser(ctx, "u1", at(30), store.AuditEvent{}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleting the user again: %v", err)
	}

	got := claim(t, s, at(30), "L1")
	if ids := claimedIDs(got); !slices.Equal(ids, []string{"a2", "a3", "a1"}) {
		t.Fatalf("claimed %v, want the deleted user's three, oldest due first", ids)
	}
	if got[2].UserID != "u1" || got[2].Reason != "user_deleted" {
		t.Errorf("the deleted user's notice as claimed: %+v", got[2])
	}
	settleSent(t, s, got, at(31))

	// b1 ends at its lifetime; nobody claims until it is pruned.
	if n, err := s.PruneSessions(ctx, at(0).Add(31*24*time.Hour), idle); err != nil || n != 1 {
		t.Fatalf("PruneSessions = %d, %v", n, err)
	}
	got = claim(t, s, at(0).Add(32*24*time.Hour), "L2")
	if len(got) != 1 || got[0].SessionID != "b1" || got[0].Reason != "session_gone" || got[0].UserID != "u2" {
		t.Fatalf("claim after the session was pruned: %+v", got)
	}
}

// testLogoutNoticeClaimConcurrent: claimers racing, on PostgreSQL over
// several connections as several nodes would, never get the same notice
// while its lease holds, and between them get every one.
func testLogoutNoticeClaimConcurrent(t *testing.T, s Store) {
	ctx := context.Background()
	bcClients(t, s)
	const sessions, claimers = 30, 8
	for round := range rounds {
		uid := fmt.Sprint("u", round)
		mustCreateUser(t, s, user(uid, fmt.Sprint("user", round)))
		var all []string
		for i := range sessions {
			sid := fmt.Sprintf("r%d-s%02d", round, i)
			all = append(all, sid)
			mustCreateSession(t, s, sessionOf(sid, uid, "bc", at(0)), hash("rt-"+sid))
		}
		now := at(100 + round)
		if _, err := s.RevokeUserSessions(ctx, uid, "", "force_logout", now, store.AuditEvent{}); err != nil {
			t.Fatal(err)
		}
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			got   = map[string][]int{}
			errs  []error
			start = make(chan struct{})
		)
		for c := range claimers {
			wg.Go(func() {
				<-start
				// Bounded, so that claims that hand out held notices
				// again fail here rather than loop.
				for range sessions {
					ns, err := s.ClaimLogoutNotices(ctx, store.NoticeClaim{Now: now, IdleTimeout: idle,
						Lease: fmt.Sprint("lease-", round, "-", c), LeaseUntil: now.Add(time.Minute), Limit: 3})
					mu.Lock()
					if err != nil {
						errs = append(errs, err)
					}
					for _, n := range ns {
						got[n.SessionID] = append(got[n.SessionID], c)
					}
					mu.Unlock()
					if err != nil || len(ns) == 0 {
						return
					}
				}
			})
		}
		close(start)
		wg.Wait()
		for _, err := range errs {
			t.Errorf("round %d: claim: %v", round, err)
		}
		for _, sid := range all {
			if len(got[sid]) != 1 {
				t.Errorf("round %d: %s claimed by %v, want exactly one claimer", round, sid, got[sid])
			}
		}
		if len(got) != sessions {
			t.Errorf("round %d: %d notices claimed, want %d", round, len(got), sessions)
		}
	}
}

// settleSent settles claimed notices as sent at done.
func settleSent(t *testing.T, s Store, ns []store.LogoutNotice, done time.Time) {
	t.Helper()
	for _, n := range ns {
		if err := s.SettleLogoutNotice(context.Background(), store.NoticeResult{SessionID: n.SessionID, Lease: n.Lease,
			Attempts: n.Attempts + 1, DoneAt: done, Outcome: store.NoticeSent}); err != nil {
			t.Fatalf("settling %s: %v", n.SessionID, err)
		}
	}
}

func testPruneLogoutNotices(t *testing.T, s Store) {
	ctx := context.Background()
	bcClients(t, s)
	mustCreateUser(t, s, user("u1", "alice"))
	for _, sid := range []string{"old", "cutoff", "pending", "armed"} {
		mustCreateSession(t, s, sessionOf(sid, "u1", "bc", at(0)), hash("rt-"+sid))
	}
	for _, sid := range []string{"old", "cutoff", "pending"} {
		if err := s.RevokeSession(ctx, sid, "logout", at(1), store.AuditEvent{}); err != nil {
			t.Fatal(err)
		}
	}
	claimed := claim(t, s, at(2), "L")
	if len(claimed) != 3 {
		t.Fatalf("claimed %v", claimedIDs(claimed))
	}
	for sid, done := range map[string]time.Time{"old": at(100), "cutoff": at(200)} {
		if err := s.SettleLogoutNotice(ctx, store.NoticeResult{SessionID: sid, Lease: "L", Attempts: 1,
			DoneAt: done, Outcome: store.NoticeSent}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SettleLogoutNotice(ctx, store.NoticeResult{SessionID: "pending", Lease: "L", Attempts: 1,
		RetryAt: at(50)}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneLogoutNotices(ctx, at(200)); err != nil || n != 1 {
		t.Fatalf("PruneLogoutNotices = %d, %v; want 1", n, err)
	}
	if _, err := s.LogoutNotice(ctx, "old"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the notice done before the cutoff: %v, want ErrNotFound", err)
	}
	for _, sid := range []string{"cutoff", "pending", "armed"} {
		mustNotice(t, s, sid)
	}
}
