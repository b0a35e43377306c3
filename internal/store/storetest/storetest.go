// Package storetest is the conformance suite every store backend must pass,
// in the manner of dex's storage/conformance: a backend's own test calls
// Run with a function that opens a fresh, empty store, and the suite checks
// each method's documented error and atomicity contract against it. Write
// each backend's SQL plainly; this suite is what keeps backends in step.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/provider"
	"github.com/gatehouse-auth/gatehouse/internal/revocation"

	// engine, since session names this suite's session fixture.
	engine "github.com/gatehouse-auth/gatehouse/internal/session"
	"github.com/gatehouse-auth/gatehouse/internal/store"
	"github.com/gatehouse-auth/gatehouse/internal/token"
)

// Store is the whole surface a backend offers: the interfaces its
// consumers declare, each with its methods' contracts in its doc comments
// (the errors are the store package's sentinels, wrapped with %w), and the
// server secrets the commands read. A method added to a consumer's
// interface is thereby one every backend must offer here. The login
// limits' store (limiter.Store) is not part of it: only a backend that
// several nodes share implements it, and limitertest is its suite.
type Store interface {
	engine.Store              // the session engine
	token.KeyStore            // the keyring
	revocation.Store          // the revocation hub
	provider.Clients          // the client registry
	provider.Codes            // the provider's authorization codes
	provider.PushedRequests   // its pushed authorization requests
	provider.Consents         // its remembered consents
	provider.LogoutNotices    // its back-channel logout notices
	provider.ClientAssertions // the private_key_jwt assertions clients used
	BFFSessions               // the backend for frontend's browser sessions

	// Secret returns the named secret, creating it with size random bytes
	// on first use; concurrent first uses agree. Its consumer is the
	// composition root (the gatehouse command), which no package imports.
	Secret(ctx context.Context, name string, size int) ([]byte, error)
}

// Run runs every conformance test. open must return a fresh, empty store
// and arrange (with t.Cleanup) for it to be closed.
func Run(t *testing.T, open func(t *testing.T) Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s Store)
	}{
		{"Users", testUsers},
		{"ListUsers", testListUsers},
		{"UpdateUser", testUpdateUser},
		{"DeleteUser", testDeleteUser},
		{"Sessions", testSessions},
		{"ListSessions", testListSessions},
		{"PruneSessions", testPruneSessions},
		{"RevokeSession", testRevokeSession},
		{"RevokeUserSessions", testRevokeUserSessions},
		{"RevocationFeed", testRevocationFeed},
		{"RevocationFeedAtomic", testRevocationFeedAtomic},
		{"RevocationFeedPaging", testRevocationFeedPaging},
		{"RevocationFeedFollow", testRevocationFeedFollow},
		{"Rotation", testRotation},
		{"RotationConcurrent", testRotationConcurrent},
		{"Audit", testAudit},
		{"SigningKeys", testSigningKeys},
		{"SigningKeysConcurrent", testSigningKeysConcurrent},
		{"SigningKeyPurposes", testSigningKeyPurposes},
		{"SigningKeyPurposesConcurrent", testSigningKeyPurposesConcurrent},
		{"Secret", testSecret},
		{"Clients", testClients},
		{"UpdateClient", testUpdateClient},
		{"Codes", testCodes},
		{"RedeemCodeConcurrent", testRedeemCodeConcurrent},
		{"PruneCodes", testPruneCodes},
		{"PushedRequests", testPushedRequests},
		{"TakePushedRequestConcurrent", testTakePushedRequestConcurrent},
		{"PrunePushedRequests", testPrunePushedRequests},
		{"Consents", testConsents},
		{"ClientAssertions", testClientAssertions},
		{"ClientAssertionsConcurrent", testClientAssertionsConcurrent},
		{"AuthorizationCascade", testAuthorizationCascade},
		{"LogoutNotices", testLogoutNotices},
		{"LogoutNoticeDeadlines", testLogoutNoticeDeadlines},
		{"LogoutNoticeEnds", testLogoutNoticeEnds},
		{"LogoutNoticeClaimConcurrent", testLogoutNoticeClaimConcurrent},
		{"PruneLogoutNotices", testPruneLogoutNotices},
		{"BFFSessions", testBFFSessions},
		{"BFFLease", testBFFLease},
		{"BFFLeaseConcurrent", testBFFLeaseConcurrent},
		{"DeleteBFFSessions", testDeleteBFFSessions},
		{"PruneBFFSessions", testPruneBFFSessions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(t, open(t))
		})
	}
}

// t0 is whole seconds so that every backend's time precision (SQLite keeps
// nanoseconds, PostgreSQL microseconds) round-trips it exactly.
var t0 = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func user(id, name string) store.User {
	// #nosec G101 -- a test fixture: the hash of no real password, m=64 KiB.
	return store.User{
		ID:           id,
		Username:     name,
		PasswordHash: "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw",
		Roles:        []string{"admin", "ops"},
		CreatedAt:    at(0),
		UpdatedAt:    at(1),
	}
}

func session(id, userID string, created time.Time) store.Session {
	return store.Session{
		ID:                id,
		UserID:            userID,
		ClientID:          "gatehouse",
		AuthTime:          created,
		CreatedAt:         created,
		LastUsedAt:        created,
		ExpiresAt:         created.Add(30 * 24 * time.Hour),
		CreatedIP:         "192.0.2.1",
		CreatedUserAgent:  "Mozilla/5.0 (create)",
		LastIP:            "192.0.2.1",
		LastUserAgent:     "Mozilla/5.0 (create)",
		Device:            "Firefox on Linux",
		CSRFHash:          hash("csrf-" + id),
		LastJTI:           "jti-" + id,
		CredentialVersion: 3,
	}
}

// normUser and normSession make records comparable with reflect.DeepEqual
// whatever location a backend returns times in and whether it returns an
// empty slice as nil.
func normUser(u store.User) store.User {
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	if len(u.Roles) == 0 {
		u.Roles = nil
	}
	return u
}

func normSession(s store.Session) store.Session {
	s.AuthTime, s.CreatedAt, s.LastUsedAt = s.AuthTime.UTC(), s.CreatedAt.UTC(), s.LastUsedAt.UTC()
	s.ExpiresAt, s.RevokedAt = s.ExpiresAt.UTC(), s.RevokedAt.UTC()
	if len(s.CSRFHash) == 0 {
		s.CSRFHash = nil
	}
	if len(s.Audience) == 0 {
		s.Audience = nil
	}
	return s
}

func normKey(k store.SigningKey) store.SigningKey {
	k.CreatedAt, k.ActivatesAt = k.CreatedAt.UTC(), k.ActivatesAt.UTC()
	k.RetiresAt, k.ExpiresAt = k.RetiresAt.UTC(), k.ExpiresAt.UTC()
	return k
}

func mustCreateUser(t *testing.T, s Store, u store.User) {
	t.Helper()
	if err := s.CreateUser(context.Background(), u); err != nil {
		t.Fatalf("CreateUser(%s): %v", u.Username, err)
	}
}

func mustCreateSession(t *testing.T, s Store, sess store.Session, rt []byte) {
	t.Helper()
	if err := s.CreateSession(context.Background(), sess, store.RefreshToken{Hash: rt, SessionID: sess.ID, CreatedAt: sess.CreatedAt}); err != nil {
		t.Fatalf("CreateSession(%s): %v", sess.ID, err)
	}
}

func mustSession(t *testing.T, s Store, id string) store.Session {
	t.Helper()
	got, err := s.SessionByID(context.Background(), id)
	if err != nil {
		t.Fatalf("SessionByID(%s): %v", id, err)
	}
	return got
}

func mustAudit(t *testing.T, s Store, f store.AuditFilter) []store.AuditEvent {
	t.Helper()
	evs, err := s.AuditEvents(context.Background(), f)
	if err != nil {
		t.Fatalf("AuditEvents(%+v): %v", f, err)
	}
	return evs
}

func usernames(us []store.User) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.Username)
	}
	return out
}

func sessionIDs(ss []store.Session) []string {
	var out []string
	for _, sess := range ss {
		out = append(out, sess.ID)
	}
	return out
}

// pages reads a paged listing to its end: next is called with nil for the
// first page and then with the last item of the page before, and must
// return a page of at most limit items. The reading stops at the first
// empty page, or fails the test after more pages than items could fill,
// which a backend that ignored the cursor would need.
func pages[T any](t *testing.T, limit, items int, next func(last *T) ([]T, error)) []T {
	t.Helper()
	var (
		all  []T
		last *T
	)
	for range items + 1 {
		page, err := next(last)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > limit {
			t.Fatalf("page of %d items, want at most the limit %d", len(page), limit)
		}
		if len(page) == 0 {
			return all
		}
		all = append(all, page...)
		last = &page[len(page)-1]
	}
	t.Fatalf("paging did not end after %d pages for %d items", items+1, items)
	return nil
}

func testUsers(t *testing.T, s Store) {
	ctx := context.Background()
	alice := user("u-alice", "alice")
	alice.Disabled, alice.CredentialVersion = true, 7
	bob := user("u-bob", "bob")
	bob.Roles = nil
	carol := user("u-carol", "carol")
	for _, u := range []store.User{carol, alice, bob} {
		mustCreateUser(t, s, u)
	}

	for _, tt := range []struct {
		name string
		u    store.User
	}{
		{"duplicate username", user("u-other", "alice")},
		{"duplicate id", user("u-alice", "alice2")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.CreateUser(ctx, tt.u); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("CreateUser: err = %v, want ErrConflict", err)
			}
		})
	}

	lookups := []struct {
		name    string
		get     func() (store.User, error)
		want    store.User
		wantErr error
	}{
		{"by username", func() (store.User, error) { return s.UserByUsername(ctx, "alice") }, alice, nil},
		{"by id", func() (store.User, error) { return s.UserByID(ctx, "u-alice") }, alice, nil},
		{"nil roles", func() (store.User, error) { return s.UserByID(ctx, "u-bob") }, bob, nil},
		{"unknown username", func() (store.User, error) { return s.UserByUsername(ctx, "dave") }, store.User{}, store.ErrNotFound},
		{"unknown id", func() (store.User, error) { return s.UserByID(ctx, "u-dave") }, store.User{}, store.ErrNotFound},
		// Usernames are stored normalised; the store must not fold case itself.
		{"username is exact", func() (store.User, error) { return s.UserByUsername(ctx, "Alice") }, store.User{}, store.ErrNotFound},
	}
	for _, tt := range lookups {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.get()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && !reflect.DeepEqual(normUser(got), normUser(tt.want)) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}

	if n, err := s.CountUsers(ctx); err != nil || n != 3 {
		t.Errorf("CountUsers = %d, %v; want 3", n, err)
	}
}

func testListUsers(t *testing.T, s Store) {
	ctx := context.Background()
	// A search used as a LIKE pattern would also find a twin: "1000" for
	// "0%", "aab" for "a_b", every name for "%" or "_", and, \ being
	// LIKE's default escape, "100%" for \. "o'neil" holds the quote an
	// unescaped string would end at. "a_b" and "aab" also sort the other
	// way round under a locale collation that ignores punctuation.
	sorted := []string{"100%", "1000", "a_b", "aab", "ali", "alice", `back\slash`, "bob", "carol", "o'neil"}
	for i, j := range []int{8, 5, 7, 1, 9, 0, 3, 6, 2, 4} { // inserted out of order
		mustCreateUser(t, s, user(fmt.Sprint("u", i), sorted[j]))
	}

	tests := []struct {
		name string
		q    store.UserQuery
		want []string
	}{
		{"all, by username bytewise", store.UserQuery{}, sorted},
		{"search inside", store.UserQuery{Search: "li"}, []string{"ali", "alice"}},
		{"search prefix", store.UserQuery{Search: "ali"}, []string{"ali", "alice"}},
		{"search suffix", store.UserQuery{Search: "ice"}, []string{"alice"}},
		{"search whole name", store.UserQuery{Search: "bob"}, []string{"bob"}},
		{"search percent is literal", store.UserQuery{Search: "%"}, []string{"100%"}},
		{"search percent after text is literal", store.UserQuery{Search: "0%"}, []string{"100%"}},
		{"search underscore is literal", store.UserQuery{Search: "_"}, []string{"a_b"}},
		{"search underscore inside is literal", store.UserQuery{Search: "a_b"}, []string{"a_b"}},
		{"search quote", store.UserQuery{Search: "'"}, []string{"o'neil"}},
		{"search quote inside", store.UserQuery{Search: "o'n"}, []string{"o'neil"}},
		{"search backslash is literal", store.UserQuery{Search: `\`}, []string{`back\slash`}},
		// The caller folds the search as it folds usernames; the store,
		// like UserByUsername, compares exactly.
		{"search is not folded", store.UserQuery{Search: "ALI"}, nil},
		{"search no match", store.UserQuery{Search: "zz"}, nil},
		{"after a username", store.UserQuery{After: "bob"}, []string{"carol", "o'neil"}},
		{"after a name no user has", store.UserQuery{After: "b"}, []string{`back\slash`, "bob", "carol", "o'neil"}},
		{"after the last", store.UserQuery{After: "o'neil"}, nil},
		{"search and after", store.UserQuery{Search: "a", After: "aab"}, []string{"ali", "alice", `back\slash`, "carol"}},
		{"limit", store.UserQuery{Limit: 3}, []string{"100%", "1000", "a_b"}},
		{"limit over the count", store.UserQuery{Limit: 50}, sorted},
		{"search and limit", store.UserQuery{Search: "a", Limit: 2}, []string{"a_b", "aab"}},
		{"after and limit", store.UserQuery{After: "alice", Limit: 2}, []string{`back\slash`, "bob"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ListUsers(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if names := usernames(got); !reflect.DeepEqual(names, tt.want) {
				t.Fatalf("ListUsers(%+v) = %q, want %q", tt.q, names, tt.want)
			}
			for _, u := range got {
				if want, err := s.UserByID(ctx, u.ID); err != nil || !reflect.DeepEqual(normUser(u), normUser(want)) {
					t.Errorf("listed %+v\nstored %+v (%v)", u, want, err)
				}
			}
		})
	}

	// Paging by the last username of each page visits every matching user
	// once, in order, whatever the page size.
	for _, tt := range []struct {
		search string
		limit  int
		want   []string
	}{
		{"", 1, sorted},
		{"", 3, sorted},
		{"", len(sorted), sorted},
		{"a", 2, []string{"a_b", "aab", "ali", "alice", `back\slash`, "carol"}},
	} {
		t.Run(fmt.Sprintf("paging search %q by %d", tt.search, tt.limit), func(t *testing.T) {
			got := pages(t, tt.limit, len(sorted), func(last *store.User) ([]store.User, error) {
				q := store.UserQuery{Search: tt.search, Limit: tt.limit}
				if last != nil {
					q.After = last.Username
				}
				return s.ListUsers(ctx, q)
			})
			if names := usernames(got); !reflect.DeepEqual(names, tt.want) {
				t.Errorf("pages = %q, want %q", names, tt.want)
			}
		})
	}
}

func testUpdateUser(t *testing.T, s Store) {
	ctx := context.Background()
	mustCreateUser(t, s, user("u1", "alice"))
	mustCreateUser(t, s, user("u2", "bob"))
	errBoom := errors.New("boom")

	tests := []struct {
		name    string
		id      string
		fn      func(*store.User) error
		wantErr error
		want    func(store.User) store.User // the stored user afterwards, from the one before
	}{
		{
			name: "changes are written",
			id:   "u1",
			fn: func(u *store.User) error {
				u.PasswordHash, u.Disabled, u.CredentialVersion = "new-hash", true, u.CredentialVersion+1
				u.Roles, u.UpdatedAt = []string{"viewer"}, at(60)
				return nil
			},
			want: func(u store.User) store.User {
				u.PasswordHash, u.Disabled, u.CredentialVersion = "new-hash", true, u.CredentialVersion+1
				u.Roles, u.UpdatedAt = []string{"viewer"}, at(60)
				return u
			},
		},
		{
			name: "fn error aborts with no change",
			id:   "u1",
			fn: func(u *store.User) error {
				u.PasswordHash, u.CredentialVersion = "must-not-be-written", 99
				return errBoom
			},
			wantErr: errBoom,
			want:    func(u store.User) store.User { return u },
		},
		{
			// Otherwise fn could overwrite another user's row.
			name: "the id cannot be changed",
			id:   "u1",
			fn:   func(u *store.User) error { u.ID, u.PasswordHash = "u2", "changed-through-u1"; return nil },
			want: func(u store.User) store.User { u.PasswordHash = "changed-through-u1"; return u },
		},
		{
			name:    "renaming onto a taken username is a conflict",
			id:      "u1",
			fn:      func(u *store.User) error { u.Username = "bob"; return nil },
			wantErr: store.ErrConflict,
			want:    func(u store.User) store.User { return u },
		},
		{
			name: "unknown id",
			id:   "nobody",
			fn: func(*store.User) error {
				return errors.New("fn called for an unknown user")
			},
			wantErr: store.ErrNotFound,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := s.UserByID(ctx, tt.id)
			got, err := s.UpdateUser(ctx, tt.id, tt.fn)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("UpdateUser: err = %v, want %v", err, tt.wantErr)
			}
			if tt.want == nil {
				return
			}
			want := tt.want(before)
			if err == nil && !reflect.DeepEqual(normUser(got), normUser(want)) {
				t.Errorf("returned %+v\nwant     %+v", got, want)
			}
			stored, err := s.UserByID(ctx, tt.id)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(normUser(stored), normUser(want)) {
				t.Errorf("stored %+v\nwant   %+v", stored, want)
			}
		})
	}

	// Read, change and write happen in one transaction: concurrent
	// increments lose none of each other's changes.
	t.Run("concurrent updates are serialised", func(t *testing.T) {
		const n = 10
		before, err := s.UserByID(ctx, "u2")
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				if _, err := s.UpdateUser(ctx, "u2", func(u *store.User) error {
					u.CredentialVersion++
					return nil
				}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		after, err := s.UserByID(ctx, "u2")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := after.CredentialVersion, before.CredentialVersion+n; got != want {
			t.Errorf("CredentialVersion = %d after %d increments from %d, want %d", got, n, before.CredentialVersion, want)
		}
	})
}

func testDeleteUser(t *testing.T, s Store) {
	ctx := context.Background()
	mustCreateUser(t, s, user("u1", "alice"))
	mustCreateUser(t, s, user("u2", "bob"))
	mustCreateSession(t, s, session("a1", "u1", at(10)), hash("a1-0"))
	mustCreateSession(t, s, session("a2", "u1", at(20)), hash("a2-0"))
	mustCreateSession(t, s, session("b1", "u2", at(30)), hash("b1-0"))
	// A spent token as well as current ones: every token of the user goes.
	if err := s.RotateRefreshToken(ctx, rotation("a1-0", "a1-1", "a1", at(60))); err != nil {
		t.Fatal(err)
	}
	earlier := store.AuditEvent{Time: at(70), Type: "login_success", UserID: "u1", SessionID: "a1", Outcome: "success"}
	if err := s.AppendAudit(ctx, earlier); err != nil {
		t.Fatal(err)
	}
	b1 := mustSession(t, s, "b1")

	ev := store.AuditEvent{Time: at(100), Type: "user_deleted", ActorID: "u2", UserID: "u1", Outcome: "success"}
	if err := s.DeleteUser(ctx, "u1", at(100), ev); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}

	token := func(name string) func() error {
		return func() error { _, err := s.RefreshToken(ctx, hash(name)); return err }
	}
	sess := func(id string) func() error {
		return func() error { _, err := s.SessionByID(ctx, id); return err }
	}
	for _, tt := range []struct {
		name    string
		get     func() error
		wantErr error
	}{
		{"user by id", func() error { _, err := s.UserByID(ctx, "u1"); return err }, store.ErrNotFound},
		{"user by username", func() error { _, err := s.UserByUsername(ctx, "alice"); return err }, store.ErrNotFound},
		{"session a1", sess("a1"), store.ErrNotFound},
		{"session a2", sess("a2"), store.ErrNotFound},
		{"spent token", token("a1-0"), store.ErrNotFound},
		{"current token", token("a1-1"), store.ErrNotFound},
		{"other session's token", token("a2-0"), store.ErrNotFound},
		{"other user", func() error { _, err := s.UserByID(ctx, "u2"); return err }, nil},
		{"other user's session", sess("b1"), nil},
		{"other user's token", token("b1-0"), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.get(); !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
	t.Run("other user's session unchanged", func(t *testing.T) {
		if got := mustSession(t, s, "b1"); !reflect.DeepEqual(normSession(got), normSession(b1)) {
			t.Errorf("got  %+v\nwant %+v", got, b1)
		}
	})
	t.Run("listing has none of the user's sessions", func(t *testing.T) {
		got, err := s.ListSessions(ctx, store.SessionQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if ids := sessionIDs(got); !reflect.DeepEqual(ids, []string{"b1"}) {
			t.Errorf("ListSessions = %v, want [b1]", ids)
		}
	})
	t.Run("event appended, earlier events kept", func(t *testing.T) {
		evs := mustAudit(t, s, store.AuditFilter{UserID: "u1"})
		if len(evs) != 2 || evs[0].Type != ev.Type || evs[0].ActorID != ev.ActorID || evs[1].Type != earlier.Type {
			t.Errorf("audit of u1 = %+v, want the user_deleted event then the earlier login", evs)
		}
	})

	for _, tt := range []struct{ name, id string }{
		{"unknown id", "nobody"},
		{"deleted already", "u1"},
	} {
		t.Run(tt.name+" writes no event", func(t *testing.T) {
			bad := store.AuditEvent{Time: at(200), Type: "delete_" + tt.id, UserID: tt.id, Outcome: "success"}
			if err := s.DeleteUser(ctx, tt.id, at(200), bad); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("DeleteUser(%s): err = %v, want ErrNotFound", tt.id, err)
			}
			if evs := mustAudit(t, s, store.AuditFilter{Type: bad.Type}); len(evs) != 0 {
				t.Errorf("event of a failed delete was stored: %+v", evs)
			}
		})
	}
}

func testSessions(t *testing.T, s Store) {
	ctx := context.Background()
	mustCreateUser(t, s, user("u1", "alice"))
	mustCreateUser(t, s, user("u2", "bob"))
	s1, s2, s3 := session("s1", "u1", at(10)), session("s2", "u1", at(30)), session("s3", "u1", at(20))
	s3.CSRFHash = nil
	// A session of another client, for two resource servers with a scope
	// and an access-token lifetime of its own: all three come back as
	// stored.
	s2.ClientID, s2.Audience, s2.Scope = "client-2", []string{"https://api.example.com", "https://files.example.com"}, "read write"
	s2.AccessTTL = 90 * time.Second // its client's shorter access-token lifetime
	for i, sess := range []store.Session{s1, s2, s3} {
		mustCreateSession(t, s, sess, hash(fmt.Sprint("rt", i)))
	}

	t.Run("round trip", func(t *testing.T) {
		for _, want := range []store.Session{s1, s2, s3} {
			if got := mustSession(t, s, want.ID); !reflect.DeepEqual(normSession(got), normSession(want)) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		}
	})
	t.Run("first refresh token", func(t *testing.T) {
		rt, err := s.RefreshToken(ctx, hash("rt0"))
		if err != nil {
			t.Fatal(err)
		}
		if rt.SessionID != "s1" || rt.Spent() || !rt.CreatedAt.Equal(s1.CreatedAt) || len(rt.SuccessorHash) != 0 || len(rt.GraceBlob) != 0 {
			t.Errorf("first token = %+v, want an unspent token of s1 created at %v", rt, s1.CreatedAt)
		}
	})
	t.Run("unknown", func(t *testing.T) {
		if _, err := s.SessionByID(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SessionByID: err = %v, want ErrNotFound", err)
		}
		if _, err := s.RefreshToken(ctx, hash("nope")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("RefreshToken: err = %v, want ErrNotFound", err)
		}
	})
	t.Run("duplicate id writes nothing", func(t *testing.T) {
		dup := session("s1", "u1", at(40))
		err := s.CreateSession(ctx, dup, store.RefreshToken{Hash: hash("rt-dup"), SessionID: "s1", CreatedAt: at(40)})
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("CreateSession: err = %v, want ErrConflict", err)
		}
		if _, err := s.RefreshToken(ctx, hash("rt-dup")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the failed session's token was stored: err = %v", err)
		}
	})
	t.Run("duplicate token hash writes nothing", func(t *testing.T) {
		err := s.CreateSession(ctx, session("s9", "u1", at(40)), store.RefreshToken{Hash: hash("rt0"), SessionID: "s9", CreatedAt: at(40)})
		if err == nil {
			t.Fatal("CreateSession with a taken token hash succeeded")
		}
		if _, err := s.SessionByID(ctx, "s9"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("session stored without its token: err = %v", err)
		}
	})
}

func testListSessions(t *testing.T, s Store) {
	ctx := context.Background()
	mustCreateUser(t, s, user("u1", "alice"))
	mustCreateUser(t, s, user("u2", "bob"))
	const idle = time.Hour
	now := at(10000)
	live := store.SessionQuery{LiveAt: now, IdleTimeout: idle}

	// Each session but the live ones has one reason not to be live at
	// now; the pairs sit a second either side of the line the engine
	// draws when it refuses a refresh. t1 and t2 are created in the same
	// second, so that order and paging must break the tie.
	e1, e2 := session("e1", "u1", at(9200)), session("e2", "u1", at(9300))
	e1.ExpiresAt, e2.ExpiresAt = now, now.Add(time.Second)
	i1, i2 := session("i1", "u1", now.Add(-idle)), session("i2", "u1", now.Add(-idle+time.Second))
	for _, sess := range []store.Session{
		session("l1", "u1", at(9000)), session("l2", "u2", at(9100)), e1, e2, session("r1", "u1", at(9400)),
		i1, i2, session("t1", "u1", at(9600)), session("t2", "u1", at(9600)),
	} {
		mustCreateSession(t, s, sess, hash("rt-"+sess.ID))
	}
	if err := s.RevokeSession(ctx, "r1", "logout", at(9500), store.AuditEvent{}); err != nil {
		t.Fatal(err)
	}
	all := []string{"t2", "t1", "r1", "e2", "e1", "l2", "l1", "i2", "i1"}

	tests := []struct {
		name string
		q    store.SessionQuery
		want []string
	}{
		{"all newest first", store.SessionQuery{}, all},
		{"by user", store.SessionQuery{UserID: "u1"}, []string{"t2", "t1", "r1", "e2", "e1", "l1", "i2", "i1"}},
		{"by other user", store.SessionQuery{UserID: "u2"}, []string{"l2"}},
		{"by unknown user", store.SessionQuery{UserID: "nobody"}, nil},
		{"live: not revoked, expired or idle", live, []string{"t2", "t1", "e2", "l2", "l1", "i2"}},
		{"live by user", store.SessionQuery{UserID: "u1", LiveAt: now, IdleTimeout: idle}, []string{"t2", "t1", "e2", "l1", "i2"}},
		{"live later", store.SessionQuery{LiveAt: now.Add(time.Second), IdleTimeout: idle}, []string{"t2", "t1", "l2", "l1"}},
		{"limit", store.SessionQuery{Limit: 3}, []string{"t2", "t1", "r1"}},
		{"live and limit", store.SessionQuery{LiveAt: now, IdleTimeout: idle, Limit: 3}, []string{"t2", "t1", "e2"}},
		{"after the first of a tie", store.SessionQuery{After: "t2"}, all[1:]},
		{"after the second of a tie", store.SessionQuery{After: "t1"}, all[2:]},
		{"after, live", store.SessionQuery{LiveAt: now, IdleTimeout: idle, After: "e2"}, []string{"l2", "l1", "i2"}},
		{"after, by user", store.SessionQuery{UserID: "u1", After: "l2"}, []string{"l1", "i2", "i1"}},
		{"after the oldest", store.SessionQuery{After: "i1"}, nil},
		{"after and limit", store.SessionQuery{After: "r1", Limit: 2}, []string{"e2", "e1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ListSessions(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if ids := sessionIDs(got); !reflect.DeepEqual(ids, tt.want) {
				t.Fatalf("ListSessions(%+v) = %v, want %v", tt.q, ids, tt.want)
			}
			for _, sess := range got {
				if want := mustSession(t, s, sess.ID); !reflect.DeepEqual(normSession(sess), normSession(want)) {
					t.Errorf("listed %+v\nstored %+v", sess, want)
				}
			}
		})
	}

	// Paging by the id of the last session of each page visits every
	// matching session once, in order, ties included.
	for _, tt := range []struct {
		name  string
		q     store.SessionQuery
		limit int
	}{
		{"all by 1", store.SessionQuery{}, 1},
		{"all by 2", store.SessionQuery{}, 2},
		{"live by 2", live, 2},
		{"by user by 3", store.SessionQuery{UserID: "u1"}, 3},
	} {
		t.Run("paging "+tt.name, func(t *testing.T) {
			want, err := s.ListSessions(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			got := pages(t, tt.limit, len(all), func(last *store.Session) ([]store.Session, error) {
				q := tt.q
				q.Limit = tt.limit
				if last != nil {
					q.After = last.ID
				}
				return s.ListSessions(ctx, q)
			})
			if ids, wantIDs := sessionIDs(got), sessionIDs(want); !reflect.DeepEqual(ids, wantIDs) {
				t.Errorf("pages = %v, want %v", ids, wantIDs)
			}
		})
	}
}

func testPruneSessions(t *testing.T, s Store) {
	ctx := context.Background()
	mustCreateUser(t, s, user("u1", "alice"))
	mustCreateUser(t, s, user("u2", "bob"))
	const idle = time.Hour
	cut := at(10000) // endedBefore of the first prune
	// live is still live one second before its idle timeout; the second
	// prune cuts there, the case of a zero retention period.
	liveAt := at(9500)
	cut2 := liveAt.Add(idle - time.Second)

	expiring := func(id string, exp time.Time) store.Session {
		sess := session(id, "u1", at(9000))
		sess.ExpiresAt = exp
		return sess
	}
	// Each session ends in one way a second before, at, or a second after
	// cut. Those not ended by idleness are last used at 9000, so their idle
	// timeout falls after cut and only the way in their name counts.
	sessions := []struct {
		sess    store.Session
		revoked time.Time // zero: not revoked
		prune   int       // which prune deletes it: 1, 2 or 0 (none)
	}{
		{session("revoked-before", "u1", at(9000)), cut.Add(-time.Second), 1},
		{session("revoked-at", "u1", at(9000)), cut, 2},
		{session("revoked-after", "u2", at(9000)), cut.Add(time.Second), 2},
		{expiring("expired-before", cut.Add(-time.Second)), time.Time{}, 1},
		{expiring("expired-at", cut), time.Time{}, 2},
		{session("idle-before", "u2", cut.Add(-idle-time.Second)), time.Time{}, 1},
		{session("idle-at", "u1", cut.Add(-idle)), time.Time{}, 2},
		{session("live", "u1", liveAt), time.Time{}, 0},
	}
	for _, tt := range sessions {
		id := tt.sess.ID
		mustCreateSession(t, s, tt.sess, hash(id+"-0"))
		// Rotated at its creation, so that the session has a spent token
		// and a current one and its last use does not move.
		if err := s.RotateRefreshToken(ctx, rotation(id+"-0", id+"-1", id, tt.sess.CreatedAt)); err != nil {
			t.Fatal(err)
		}
		if !tt.revoked.IsZero() {
			if err := s.RevokeSession(ctx, id, "logout", tt.revoked, store.AuditEvent{}); err != nil {
				t.Fatal(err)
			}
		}
	}

	steps := []struct {
		name        string
		endedBefore time.Time
		prune       int // the sessions with this prune value go
	}{
		{"ended before the cut", cut, 1},
		{"again deletes nothing", cut, -1},
		{"cut while a session is live", cut2, 2},
	}
	gone := map[string]bool{}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			liveThen, err := s.ListSessions(ctx, store.SessionQuery{LiveAt: st.endedBefore, IdleTimeout: idle})
			if err != nil {
				t.Fatal(err)
			}
			n, err := s.PruneSessions(ctx, st.endedBefore, idle)
			if err != nil {
				t.Fatalf("PruneSessions: %v", err)
			}
			want := 0
			for _, tt := range sessions {
				if tt.prune == st.prune {
					gone[tt.sess.ID] = true
					want++
				}
			}
			if n != want {
				t.Errorf("PruneSessions = %d, want %d", n, want)
			}
			for _, tt := range sessions {
				id := tt.sess.ID
				wantErr := error(nil)
				if gone[id] {
					wantErr = store.ErrNotFound
				}
				if _, err := s.SessionByID(ctx, id); !errors.Is(err, wantErr) {
					t.Errorf("session %s: err = %v, want %v", id, err, wantErr)
				}
				for _, rt := range []string{id + "-0", id + "-1"} {
					if _, err := s.RefreshToken(ctx, hash(rt)); !errors.Is(err, wantErr) {
						t.Errorf("token %s: err = %v, want %v", rt, err, wantErr)
					}
				}
			}
			// The store's own notion of live agrees: what was live at
			// endedBefore is still there.
			for _, sess := range liveThen {
				if gone[sess.ID] {
					t.Errorf("session %s was live at %v and was pruned", sess.ID, st.endedBefore)
				}
			}
		})
	}
}

func testRevokeSession(t *testing.T, s Store) {
	ctx := context.Background()
	mustCreateUser(t, s, user("u1", "alice"))
	mustCreateSession(t, s, session("s1", "u1", at(0)), hash("rt1"))
	ev := store.AuditEvent{Time: at(100), Type: "logout", UserID: "u1", SessionID: "s1", Outcome: "success"}

	if err := s.RevokeSession(ctx, "s1", "logout", at(100), ev); err != nil {
		t.Fatalf("RevokeSession: %v", err)
	}
	got := mustSession(t, s, "s1")
	if !got.Revoked() || !got.RevokedAt.Equal(at(100)) || got.RevokeReason != "logout" {
		t.Errorf("after revoke: RevokedAt %v reason %q, want %v logout", got.RevokedAt, got.RevokeReason, at(100))
	}
	evs := mustAudit(t, s, store.AuditFilter{SessionID: "s1"})
	if len(evs) != 1 || evs[0].Type != "logout" || !evs[0].Time.Equal(at(100)) {
		t.Errorf("audit after revoke = %+v, want the one logout event", evs)
	}

	t.Run("again is not an error and changes nothing", func(t *testing.T) {
		if err := s.RevokeSession(ctx, "s1", "admin", at(200), store.AuditEvent{}); err != nil {
			t.Fatalf("second RevokeSession: %v", err)
		}
		again := mustSession(t, s, "s1")
		if !again.RevokedAt.Equal(at(100)) || again.RevokeReason != "logout" {
			t.Errorf("second revoke changed the session: RevokedAt %v reason %q", again.RevokedAt, again.RevokeReason)
		}
	})
	t.Run("unknown id writes no event", func(t *testing.T) {
		bad := store.AuditEvent{Time: at(300), Type: "revoke_unknown", Outcome: "success"}
		if err := s.RevokeSession(ctx, "nope", "logout", at(300), bad); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
		if evs := mustAudit(t, s, store.AuditFilter{Type: "revoke_unknown"}); len(evs) != 0 {
			t.Errorf("event of a failed revoke was stored: %+v", evs)
		}
	})
}

func testRevokeUserSessions(t *testing.T, s Store) {
	ctx := context.Background()
	mustCreateUser(t, s, user("u1", "alice"))
	mustCreateUser(t, s, user("u2", "bob"))
	for i, sess := range []store.Session{
		session("a1", "u1", at(1)), session("a2", "u1", at(2)), session("a3", "u1", at(3)),
		session("a4", "u1", at(4)), session("b1", "u2", at(5)),
	} {
		mustCreateSession(t, s, sess, hash(fmt.Sprint("rt", i)))
	}
	if err := s.RevokeSession(ctx, "a4", "earlier", at(50), store.AuditEvent{}); err != nil {
		t.Fatal(err)
	}

	ev := store.AuditEvent{Time: at(100), Type: "logout_all", UserID: "u1", SessionID: "a1", Outcome: "success"}
	n, err := s.RevokeUserSessions(ctx, "u1", "a1", "logout_all", at(100), ev)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("ended %d sessions, want 2 (a2, a3)", n)
	}
	for _, tt := range []struct {
		id         string
		wantReason string
		wantAt     time.Time
	}{
		{"a1", "", time.Time{}},       // the exception
		{"a2", "logout_all", at(100)}, // ended now
		{"a3", "logout_all", at(100)}, // ended now
		{"a4", "earlier", at(50)},     // already ended: left as it was
		{"b1", "", time.Time{}},       // another user's
	} {
		got := mustSession(t, s, tt.id)
		if got.RevokeReason != tt.wantReason || !got.RevokedAt.Equal(tt.wantAt) {
			t.Errorf("%s: revoked %v %q, want %v %q", tt.id, got.RevokedAt, got.RevokeReason, tt.wantAt, tt.wantReason)
		}
	}
	if evs := mustAudit(t, s, store.AuditFilter{Type: "logout_all"}); len(evs) != 1 || evs[0].SessionID != "a1" {
		t.Errorf("audit = %+v, want the one logout_all event", evs)
	}

	t.Run("no exception", func(t *testing.T) {
		n, err := s.RevokeUserSessions(ctx, "u1", "", "password_change", at(200), store.AuditEvent{})
		if err != nil || n != 1 {
			t.Errorf("RevokeUserSessions = %d, %v; want 1 (a1)", n, err)
		}
		if got := mustSession(t, s, "a1"); got.RevokeReason != "password_change" {
			t.Errorf("a1 reason %q, want password_change", got.RevokeReason)
		}
		if n, err := s.RevokeUserSessions(ctx, "u1", "", "again", at(300), store.AuditEvent{}); err != nil || n != 0 {
			t.Errorf("second RevokeUserSessions = %d, %v; want 0", n, err)
		}
	})
}

func rotation(old, next, sid string, now time.Time) store.Rotation {
	return store.Rotation{
		OldHash:   hash(old),
		Next:      store.RefreshToken{Hash: hash(next), SessionID: sid, CreatedAt: now},
		GraceBlob: []byte("sealed:" + next),
		Now:       now,
		IP:        "198.51.100.7",
		UserAgent: "curl/8 (" + next + ")",
		JTI:       "jti-" + next,
		CSRFHash:  hash("csrf-" + next),
	}
}

func testRotation(t *testing.T, s Store) {
	ctx := context.Background()
	mustCreateUser(t, s, user("u1", "alice"))
	mustCreateSession(t, s, session("s1", "u1", at(0)), hash("rt0"))
	mustCreateSession(t, s, session("s2", "u1", at(0)), hash("other0"))

	r := rotation("rt0", "rt1", "s1", at(60))
	if err := s.RotateRefreshToken(ctx, r); err != nil {
		t.Fatalf("RotateRefreshToken: %v", err)
	}
	old, err := s.RefreshToken(ctx, hash("rt0"))
	if err != nil {
		t.Fatal(err)
	}
	if !old.SpentAt.Equal(at(60)) || !bytes.Equal(old.SuccessorHash, hash("rt1")) || !bytes.Equal(old.GraceBlob, r.GraceBlob) {
		t.Errorf("old token = %+v, want spent at %v with successor rt1 and the grace blob", old, at(60))
	}
	next, err := s.RefreshToken(ctx, hash("rt1"))
	if err != nil {
		t.Fatalf("successor not stored: %v", err)
	}
	if next.SessionID != "s1" || next.Spent() || !next.CreatedAt.Equal(at(60)) {
		t.Errorf("successor = %+v, want an unspent token of s1 created at %v", next, at(60))
	}
	want := session("s1", "u1", at(0))
	want.LastUsedAt, want.LastIP, want.LastUserAgent, want.LastJTI, want.CSRFHash = r.Now, r.IP, r.UserAgent, r.JTI, r.CSRFHash
	if got := mustSession(t, s, "s1"); !reflect.DeepEqual(normSession(got), normSession(want)) {
		t.Errorf("session after rotation\n got  %+v\n want %+v", got, want)
	}

	// Every refused rotation must leave the session and the tokens as they
	// were: no successor row, no change to the spent token or the session.
	refused := []struct {
		name string
		r    store.Rotation
		prep func(t *testing.T)
		errs []error // any of these
	}{
		{"old token spent again", rotation("rt0", "rt2", "s1", at(120)), nil, []error{store.ErrAlreadySpent}},
		{"token of another session", rotation("other0", "rt3", "s1", at(120)), nil, []error{store.ErrAlreadySpent, store.ErrNotFound}},
		{"unknown token", rotation("never-issued", "rt4", "s1", at(120)), nil, []error{store.ErrAlreadySpent, store.ErrNotFound}},
		{"session revoked", rotation("rt1", "rt5", "s1", at(120)), func(t *testing.T) {
			if err := s.RevokeSession(ctx, "s1", "logout", at(90), store.AuditEvent{}); err != nil {
				t.Fatal(err)
			}
		}, []error{store.ErrAlreadySpent}},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			if tt.prep != nil {
				tt.prep(t)
			}
			sessBefore := mustSession(t, s, tt.r.Next.SessionID)
			oldBefore, oldErr := s.RefreshToken(ctx, tt.r.OldHash)

			err := s.RotateRefreshToken(ctx, tt.r)
			ok := false
			for _, e := range tt.errs {
				ok = ok || errors.Is(err, e)
			}
			if !ok {
				t.Fatalf("err = %v, want one of %v", err, tt.errs)
			}
			if _, err := s.RefreshToken(ctx, tt.r.Next.Hash); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("successor of a refused rotation was stored: err = %v", err)
			}
			if got := mustSession(t, s, tt.r.Next.SessionID); !reflect.DeepEqual(normSession(got), normSession(sessBefore)) {
				t.Errorf("refused rotation changed the session\n got  %+v\n want %+v", got, sessBefore)
			}
			oldAfter, err := s.RefreshToken(ctx, tt.r.OldHash)
			if (err == nil) != (oldErr == nil) || !oldAfter.SpentAt.Equal(oldBefore.SpentAt) ||
				!bytes.Equal(oldAfter.SuccessorHash, oldBefore.SuccessorHash) || !bytes.Equal(oldAfter.GraceBlob, oldBefore.GraceBlob) {
				t.Errorf("refused rotation changed the old token: %+v, was %+v", oldAfter, oldBefore)
			}
		})
	}
}

// testRotationConcurrent is the property refresh-token reuse detection
// rests on: of many concurrent rotations of one token, exactly one wins.
// The race runs five times, each on a session of its own: the first
// round mostly opens a pool's connections one after another, the later
// ones race on connections already open, where a read-then-write would
// let two rotations through.
func testRotationConcurrent(t *testing.T, s Store) {
	mustCreateUser(t, s, user("u1", "alice"))
	for round := range 5 {
		raceRotation(t, s, fmt.Sprint("s", round), fmt.Sprint("r", round, "-"))
	}
}

func raceRotation(t *testing.T, s Store, sid, prefix string) {
	t.Helper()
	ctx := context.Background()
	mustCreateSession(t, s, session(sid, "u1", at(0)), hash(prefix+"rt0"))

	const n = 20
	winner := race(t, sid+": rotation", n, store.ErrAlreadySpent, func(i int) error {
		return s.RotateRefreshToken(ctx, rotation(prefix+"rt0", fmt.Sprint(prefix, "next", i), sid, at(60+i)))
	})
	var stored []int
	for i := range n {
		_, err := s.RefreshToken(ctx, hash(fmt.Sprint(prefix, "next", i)))
		switch {
		case err == nil:
			stored = append(stored, i)
		case !errors.Is(err, store.ErrNotFound):
			t.Fatal(err)
		}
	}
	if len(stored) != 1 || stored[0] != winner {
		t.Errorf("%s: successor rows stored for %v, want only the winner %d", sid, stored, winner)
	}
	old, err := s.RefreshToken(ctx, hash(prefix+"rt0"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(old.SuccessorHash, hash(fmt.Sprint(prefix, "next", winner))) {
		t.Errorf("%s: old token's successor is not the winner's", sid)
	}
	if got := mustSession(t, s, sid); got.LastJTI != fmt.Sprint("jti-", prefix, "next", winner) {
		t.Errorf("%s: session LastJTI = %q, want the winner's", sid, got.LastJTI)
	}
}

// race runs call(0) to call(n-1) at once and returns the one i whose call
// succeeded; every other must fail with lost. It is the property of every
// single-use credential (a refresh token's rotation, a code's redemption,
// a pushed request's take): of concurrent uses, exactly one wins.
func race(t *testing.T, what string, n int, lost error, call func(i int) error) int {
	t.Helper()
	errs := make([]error, n)
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = call(i)
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("%s %d and %d both succeeded", what, winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, lost):
			t.Errorf("%s %d: err = %v, want %v", what, i, err, lost)
		}
	}
	if winner < 0 {
		t.Fatalf("%s: none succeeded", what)
	}
	return winner
}

func testAudit(t *testing.T, s Store) {
	ctx := context.Background()
	events := []store.AuditEvent{
		{Time: at(1), Type: "login_success", UserID: "u1", SessionID: "s1", IP: "192.0.2.1", UserAgent: "ua1", Outcome: "success"},
		{Time: at(2), Type: "login_failure", UserID: "u2", IP: "192.0.2.2", Outcome: "failure", Detail: "wrong password"},
		{Time: at(3), Type: "login_success", UserID: "u2", SessionID: "s2", Outcome: "success"},
		{Time: at(4), Type: "logout", UserID: "u1", SessionID: "s1", Outcome: "success"},
		{Time: at(5), Type: "login_failure", Outcome: "failure", Detail: "unknown user"},
		// Two in one second: Since and Until must take or leave both.
		{Time: at(6), Type: "session_revoked", ActorID: "u9", UserID: "u1", SessionID: "s1", Outcome: "success", Detail: "revoked_by_admin"},
		{Time: at(6), Type: "user_disabled", ActorID: "u9", UserID: "u2", Outcome: "success"},
	}
	for _, ev := range events {
		if err := s.AppendAudit(ctx, ev); err != nil {
			t.Fatalf("AppendAudit(%s): %v", ev.Type, err)
		}
	}
	// An event without a type is not stored.
	if err := s.AppendAudit(ctx, store.AuditEvent{Time: at(7)}); err != nil {
		t.Fatalf("AppendAudit(empty): %v", err)
	}
	stored := mustAudit(t, s, store.AuditFilter{})
	if len(stored) != len(events) {
		t.Fatalf("%d events stored, want %d", len(stored), len(events))
	}
	// id is the ID the store gave events[i], for the BeforeID cases.
	id := func(i int) int64 { return stored[len(stored)-1-i].ID }

	tests := []struct {
		name string
		f    store.AuditFilter
		want []int // indexes into events, in the order expected
	}{
		{"all newest first", store.AuditFilter{}, []int{6, 5, 4, 3, 2, 1, 0}},
		{"by type", store.AuditFilter{Type: "login_failure"}, []int{4, 1}},
		{"by user", store.AuditFilter{UserID: "u1"}, []int{5, 3, 0}},
		{"by actor", store.AuditFilter{ActorID: "u9"}, []int{6, 5}},
		{"by session", store.AuditFilter{SessionID: "s2"}, []int{2}},
		{"type and user", store.AuditFilter{Type: "login_success", UserID: "u2"}, []int{2}},
		{"actor and user", store.AuditFilter{ActorID: "u9", UserID: "u2"}, []int{6}},
		{"user and session", store.AuditFilter{UserID: "u1", SessionID: "s1", Type: "logout"}, []int{3}},
		{"since is inclusive", store.AuditFilter{Since: at(5)}, []int{6, 5, 4}},
		{"since takes a whole second", store.AuditFilter{Since: at(6)}, []int{6, 5}},
		{"until is exclusive", store.AuditFilter{Until: at(3)}, []int{1, 0}},
		{"until leaves a whole second", store.AuditFilter{Until: at(6)}, []int{4, 3, 2, 1, 0}},
		{"since and until", store.AuditFilter{Since: at(2), Until: at(4)}, []int{2, 1}},
		{"since equals until", store.AuditFilter{Since: at(3), Until: at(3)}, nil},
		{"window and user", store.AuditFilter{Since: at(2), Until: at(6), UserID: "u2"}, []int{2, 1}},
		{"before id", store.AuditFilter{BeforeID: id(3)}, []int{2, 1, 0}},
		{"before the oldest", store.AuditFilter{BeforeID: id(0)}, nil},
		{"before id and type", store.AuditFilter{BeforeID: id(4), Type: "login_failure"}, []int{1}},
		{"before id and limit", store.AuditFilter{BeforeID: id(5), Limit: 2}, []int{4, 3}},
		{"limit", store.AuditFilter{Limit: 2}, []int{6, 5}},
		{"limit keeps the newest", store.AuditFilter{Since: at(2), Until: at(5), Limit: 2}, []int{3, 2}},
		{"limit over the count", store.AuditFilter{UserID: "u1", Limit: 50}, []int{5, 3, 0}},
		{"no match", store.AuditFilter{UserID: "u9"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustAudit(t, s, tt.f)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d events %+v, want %d", len(got), got, len(tt.want))
			}
			for i, ev := range got {
				want := events[tt.want[i]]
				if !ev.Time.Equal(want.Time) {
					t.Errorf("event %d time = %v, want %v", i, ev.Time, want.Time)
				}
				if ev.ID != id(tt.want[i]) {
					t.Errorf("event %d id = %d, want %d", i, ev.ID, id(tt.want[i]))
				}
				ev.ID, ev.Time = 0, want.Time
				if ev != want {
					t.Errorf("event %d = %+v, want %+v", i, ev, want)
				}
			}
			for i := 1; i < len(got); i++ {
				if got[i].ID >= got[i-1].ID {
					t.Errorf("ids not descending: %d then %d", got[i-1].ID, got[i].ID)
				}
			}
		})
	}

	// Paging by the id of the last event of each page visits every
	// matching event once, newest first.
	for _, tt := range []struct {
		name  string
		f     store.AuditFilter
		limit int
	}{
		{"all by 1", store.AuditFilter{}, 1},
		{"all by 3", store.AuditFilter{}, 3},
		{"by user by 2", store.AuditFilter{UserID: "u1"}, 2},
		{"window by 2", store.AuditFilter{Since: at(2), Until: at(6)}, 2},
	} {
		t.Run("paging "+tt.name, func(t *testing.T) {
			want := mustAudit(t, s, tt.f)
			got := pages(t, tt.limit, len(events), func(last *store.AuditEvent) ([]store.AuditEvent, error) {
				f := tt.f
				f.Limit = tt.limit
				if last != nil {
					f.BeforeID = last.ID
				}
				return s.AuditEvents(ctx, f)
			})
			if !reflect.DeepEqual(got, want) {
				t.Errorf("pages = %+v\nwant    %+v", got, want)
			}
		})
	}
}

func testSigningKeys(t *testing.T, s Store) {
	ctx := context.Background()
	const keep = time.Hour
	key := func(kid string, activates time.Time) store.SigningKey {
		return store.SigningKey{KID: kid, Alg: "ES256", Purpose: store.PurposeAccess, Private: []byte("der-" + kid),
			CreatedAt: activates.Add(-10 * time.Minute), ActivatesAt: activates}
	}
	keys := func(t *testing.T) map[string]store.SigningKey {
		t.Helper()
		ks, err := s.SigningKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]store.SigningKey{}
		for i, k := range ks {
			if i > 0 && k.ActivatesAt.Before(ks[i-1].ActivatesAt) {
				t.Errorf("SigningKeys not in activation order: %s before %s", ks[i-1].KID, k.KID)
			}
			m[k.KID] = normKey(k)
		}
		return m
	}
	retired := func(k store.SigningKey, at time.Time) store.SigningKey {
		k.RetiresAt, k.ExpiresAt = at, at.Add(keep)
		return k
	}

	k1, k2, k3 := key("k1", at(0)), key("k2", at(1000)), key("k3", at(2000))
	steps := []struct {
		name    string
		add     store.SigningKey
		after   string
		wantErr error
		want    map[string]store.SigningKey
	}{
		{"first after a stale newest writes nothing", k1, "k0", store.ErrConflict, map[string]store.SigningKey{}},
		{"first key", k1, "", nil, map[string]store.SigningKey{"k1": k1}},
		{"first again writes nothing", key("k1b", at(0)), "", store.ErrConflict, map[string]store.SigningKey{"k1": k1}},
		{"second retires the first", k2, "k1", nil, map[string]store.SigningKey{"k1": retired(k1, k2.ActivatesAt), "k2": k2}},
		{"after a replaced newest writes nothing", key("k2b", at(1500)), "k1", store.ErrConflict,
			map[string]store.SigningKey{"k1": retired(k1, k2.ActivatesAt), "k2": k2}},
		{"duplicate kid writes nothing", key("k2", at(1500)), "k2", store.ErrConflict,
			map[string]store.SigningKey{"k1": retired(k1, k2.ActivatesAt), "k2": k2}},
		{"third retires only the second", k3, "k2", nil,
			map[string]store.SigningKey{"k1": retired(k1, k2.ActivatesAt), "k2": retired(k2, k3.ActivatesAt), "k3": k3}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := s.AddSigningKey(ctx, st.add, keep, st.after); !errors.Is(err, st.wantErr) {
				t.Fatalf("AddSigningKey(%s): err = %v, want %v", st.add.KID, err, st.wantErr)
			}
			if got := keys(t); !reflect.DeepEqual(got, st.want) {
				t.Errorf("keys\n got  %+v\n want %+v", got, st.want)
			}
		})
	}

	t.Run("key activating later is not retired by an earlier one", func(t *testing.T) {
		// k3 is the unretired key and activates at 2000; a key activating
		// before it must not retire it.
		k0 := key("k0", at(1800))
		if err := s.AddSigningKey(ctx, k0, keep, "k3"); err != nil {
			t.Fatal(err)
		}
		got := keys(t)
		if !got["k3"].RetiresAt.IsZero() {
			t.Errorf("k3 retired at %v by a key activating before it", got["k3"].RetiresAt)
		}
		// k3 activates last, so it is still the newest key.
		if err := s.AddSigningKey(ctx, key("k4", at(2100)), keep, "k0"); !errors.Is(err, store.ErrConflict) {
			t.Errorf("add after k0, which is not the newest: %v, want ErrConflict", err)
		}
	})

	t.Run("newest breaks ties by created_at, then kid", func(t *testing.T) {
		// Same activation as k3, created later: the newest.
		k5 := key("k5", at(2000))
		k5.CreatedAt = k3.CreatedAt.Add(time.Second)
		if err := s.AddSigningKey(ctx, k5, keep, "k3"); err != nil {
			t.Fatal(err)
		}
		// Same activation and creation as k5, a greater kid: the newest.
		k6 := k5
		k6.KID = "k6"
		if err := s.AddSigningKey(ctx, k6, keep, "k5"); err != nil {
			t.Fatal(err)
		}
		k7 := key("k7", at(2001))
		if err := s.AddSigningKey(ctx, k7, keep, "k5"); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("add after k5: %v, want ErrConflict (k6 ties and sorts after it)", err)
		}
		if err := s.AddSigningKey(ctx, k7, keep, "k6"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("delete expired", func(t *testing.T) {
		// k1 is unpublished at 1000+keep, k2 at 2000+keep.
		if err := s.DeleteExpiredSigningKeys(ctx, at(1001).Add(keep)); err != nil {
			t.Fatal(err)
		}
		got := keys(t)
		if _, ok := got["k1"]; ok {
			t.Error("k1 expired but not deleted")
		}
		for _, kid := range []string{"k0", "k2", "k3", "k7"} {
			if _, ok := got[kid]; !ok {
				t.Errorf("%s deleted before it expired", kid)
			}
		}
	})

	t.Run("reseal", func(t *testing.T) {
		want := keys(t)
		old := want["k3"].Private
		n, err := s.ResealSigningKeys(ctx, []store.KeyReseal{
			{KID: "k3", Old: old, New: []byte("sealed-k3")},
			{KID: "k7", Old: []byte("not what k7 holds"), New: []byte("sealed-k7")},
			{KID: "gone", Old: []byte("der-gone"), New: []byte("sealed-gone")},
		})
		if err != nil || n != 1 {
			t.Fatalf("ResealSigningKeys = %d, %v; want 1 row changed", n, err)
		}
		k := want["k3"]
		k.Private = []byte("sealed-k3")
		want["k3"] = k
		if got := keys(t); !reflect.DeepEqual(got, want) {
			t.Errorf("after reseal\n got  %+v\n want %+v", got, want)
		}
		// Again: k3 no longer holds its old bytes, so nothing changes.
		n, err = s.ResealSigningKeys(ctx, []store.KeyReseal{{KID: "k3", Old: old, New: []byte("other")}})
		if err != nil || n != 0 {
			t.Fatalf("second ResealSigningKeys = %d, %v; want 0 rows changed", n, err)
		}
		if got := keys(t); !bytes.Equal(got["k3"].Private, []byte("sealed-k3")) {
			t.Errorf("k3 holds %q after a stale reseal", got["k3"].Private)
		}
	})
}

// testSigningKeysConcurrent: nodes starting at once on an empty table, or
// operators rotating at once, each try to add a key after the same newest
// one; exactly one may succeed, or two keys would be created for one step.
func testSigningKeysConcurrent(t *testing.T, s Store) {
	ctx := context.Background()
	const n = 8
	after := "" // the first round adds to an empty table
	for round := range 2 {
		var (
			wg      sync.WaitGroup
			start   = make(chan struct{})
			mu      sync.Mutex
			won     []string
			unusual []error
		)
		for i := range n {
			kid := fmt.Sprintf("r%d-%d", round, i)
			k := store.SigningKey{KID: kid, Alg: "ES256", Private: []byte("der-" + kid),
				CreatedAt: at(1000 * round), ActivatesAt: at(1000*round + i)}
			wg.Go(func() {
				<-start
				err := s.AddSigningKey(ctx, k, time.Hour, after)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won = append(won, kid)
				case !errors.Is(err, store.ErrConflict):
					unusual = append(unusual, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if len(unusual) > 0 {
			t.Fatalf("round %d: errors other than ErrConflict: %v", round, unusual)
		}
		if len(won) != 1 {
			t.Fatalf("round %d: %d adds after %q succeeded (%v), want exactly 1", round, len(won), after, won)
		}
		ks, err := s.SigningKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ks) != round+1 {
			t.Fatalf("round %d: %d keys stored, want %d", round, len(ks), round+1)
		}
		after = won[0]
	}
}

// testSigningKeyPurposes: access and id keys are two rotation lineages in
// one table. Adding a key of one purpose retires none of the other, and
// the compare-and-set looks at the newest key of the added key's purpose
// only, however the two lineages' activation times interleave.
func testSigningKeyPurposes(t *testing.T, s Store) {
	ctx := context.Background()
	const keep = time.Hour
	key := func(kid, purpose string, activates time.Time) store.SigningKey {
		return store.SigningKey{KID: kid, Alg: "ES256", Purpose: purpose, Private: []byte("der-" + kid),
			CreatedAt: activates.Add(-10 * time.Minute), ActivatesAt: activates}
	}
	retired := func(k store.SigningKey, at time.Time) store.SigningKey {
		k.RetiresAt, k.ExpiresAt = at, at.Add(keep)
		return k
	}
	keys := func(t *testing.T) map[string]store.SigningKey {
		t.Helper()
		ks, err := s.SigningKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]store.SigningKey{}
		for i, k := range ks {
			if i > 0 && k.ActivatesAt.Before(ks[i-1].ActivatesAt) {
				t.Errorf("SigningKeys not in activation order: %s before %s", ks[i-1].KID, k.KID)
			}
			m[k.KID] = normKey(k)
		}
		return m
	}
	const access, id = store.PurposeAccess, store.PurposeID

	// a0 is written without a purpose: it is an access key, read back as
	// one. i2 activates after every access key, so the newest key of the
	// whole table is an id key from then on.
	a0 := key("a0", "", at(0))
	a0read := a0
	a0read.Purpose = access
	a1, i1, i2, a2 := key("a1", access, at(1000)), key("i1", id, at(500)), key("i2", id, at(5000)), key("a2", access, at(2000))
	steps := []struct {
		name    string
		add     store.SigningKey
		after   string
		wantErr error
		want    map[string]store.SigningKey
	}{
		{"first access key, without a purpose", a0, "", nil, map[string]store.SigningKey{"a0": a0read}},
		{"first id key after no id key", i1, "", nil, map[string]store.SigningKey{"a0": a0read, "i1": i1}},
		{"id key after the newest access key writes nothing", key("i1b", id, at(600)), "a0", store.ErrConflict,
			map[string]store.SigningKey{"a0": a0read, "i1": i1}},
		{"access key after the newest id key writes nothing", a1, "i1", store.ErrConflict,
			map[string]store.SigningKey{"a0": a0read, "i1": i1}},
		{"second access key retires only the access key", a1, "a0", nil,
			map[string]store.SigningKey{"a0": retired(a0read, a1.ActivatesAt), "i1": i1, "a1": a1}},
		{"second id key retires only the id key", i2, "i1", nil,
			map[string]store.SigningKey{"a0": retired(a0read, a1.ActivatesAt), "i1": retired(i1, i2.ActivatesAt), "a1": a1, "i2": i2}},
		{"access key after the table's newest key, an id key, writes nothing", a2, "i2", store.ErrConflict,
			map[string]store.SigningKey{"a0": retired(a0read, a1.ActivatesAt), "i1": retired(i1, i2.ActivatesAt), "a1": a1, "i2": i2}},
		{"access key after the newest access key", a2, "a1", nil,
			map[string]store.SigningKey{"a0": retired(a0read, a1.ActivatesAt), "i1": retired(i1, i2.ActivatesAt),
				"a1": retired(a1, a2.ActivatesAt), "i2": i2, "a2": a2}},
		{"kid taken by a key of the other purpose writes nothing", key("a2", id, at(6000)), "i2", store.ErrConflict,
			map[string]store.SigningKey{"a0": retired(a0read, a1.ActivatesAt), "i1": retired(i1, i2.ActivatesAt),
				"a1": retired(a1, a2.ActivatesAt), "i2": i2, "a2": a2}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := s.AddSigningKey(ctx, st.add, keep, st.after); !errors.Is(err, st.wantErr) {
				t.Fatalf("AddSigningKey(%s, %q): err = %v, want %v", st.add.KID, st.add.Purpose, err, st.wantErr)
			}
			if got := keys(t); !reflect.DeepEqual(got, st.want) {
				t.Errorf("keys\n got  %+v\n want %+v", got, st.want)
			}
		})
	}

	t.Run("delete expired spans purposes", func(t *testing.T) {
		// a0 is unpublished at 1000+keep, i1 at 5000+keep.
		if err := s.DeleteExpiredSigningKeys(ctx, at(5001).Add(keep)); err != nil {
			t.Fatal(err)
		}
		got := keys(t)
		for _, kid := range []string{"a0", "i1", "a1"} {
			if _, ok := got[kid]; ok {
				t.Errorf("%s expired but not deleted", kid)
			}
		}
		for _, kid := range []string{"i2", "a2"} {
			if _, ok := got[kid]; !ok {
				t.Errorf("%s deleted before it expired", kid)
			}
		}
	})

	t.Run("reseal spans purposes", func(t *testing.T) {
		n, err := s.ResealSigningKeys(ctx, []store.KeyReseal{
			{KID: "i2", Old: []byte("der-i2"), New: []byte("sealed-i2")},
			{KID: "a2", Old: []byte("der-a2"), New: []byte("sealed-a2")},
		})
		if err != nil || n != 2 {
			t.Fatalf("ResealSigningKeys = %d, %v; want 2 rows changed", n, err)
		}
		got := keys(t)
		if !bytes.Equal(got["i2"].Private, []byte("sealed-i2")) || got["i2"].Purpose != id ||
			!bytes.Equal(got["a2"].Private, []byte("sealed-a2")) || got["a2"].Purpose != access {
			t.Errorf("after reseal: i2 %+v, a2 %+v", got["i2"], got["a2"])
		}
	})
}

// testSigningKeyPurposesConcurrent: nodes starting together on an empty
// table each try to create the first access key and the first id key at
// once; exactly one of each purpose is added, the two compare-and-sets
// not standing in each other's way.
func testSigningKeyPurposesConcurrent(t *testing.T, s Store) {
	ctx := context.Background()
	const n = 8 // per purpose
	purposes := []string{store.PurposeAccess, store.PurposeID}
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		mu      sync.Mutex
		won     = map[string][]string{}
		unusual []error
	)
	for _, p := range purposes {
		for i := range n {
			kid := fmt.Sprintf("%s-%d", p, i)
			k := store.SigningKey{KID: kid, Alg: "ES256", Purpose: p, Private: []byte("der-" + kid),
				CreatedAt: at(0), ActivatesAt: at(i)}
			wg.Go(func() {
				<-start
				err := s.AddSigningKey(ctx, k, time.Hour, "")
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won[p] = append(won[p], kid)
				case !errors.Is(err, store.ErrConflict):
					unusual = append(unusual, err)
				}
			})
		}
	}
	close(start)
	wg.Wait()
	if len(unusual) > 0 {
		t.Fatalf("errors other than ErrConflict: %v", unusual)
	}
	for _, p := range purposes {
		if len(won[p]) != 1 {
			t.Errorf("%d first %s keys added (%v), want exactly 1", len(won[p]), p, won[p])
		}
	}
	ks, err := s.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, k := range ks {
		count[k.Purpose]++
		if !k.RetiresAt.IsZero() {
			t.Errorf("%s retired by a first key", k.KID)
		}
	}
	if count[store.PurposeAccess] != 1 || count[store.PurposeID] != 1 || len(ks) != 2 {
		t.Errorf("stored %v, want one key of each purpose", count)
	}
}

func testSecret(t *testing.T, s Store) {
	ctx := context.Background()
	a, err := s.Secret(ctx, "csrf", 32)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 32 || bytes.Equal(a, make([]byte, 32)) {
		t.Fatalf("Secret = %x, want 32 random bytes", a)
	}
	b, err := s.Secret(ctx, "csrf", 32)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("Secret changed between calls")
	}
	other, err := s.Secret(ctx, "grace", 32)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, other) {
		t.Error("two names share one secret")
	}

	t.Run("concurrent first use agrees", func(t *testing.T) {
		const n = 20
		got := make([][]byte, n)
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
		)
		for i := range n {
			wg.Go(func() {
				<-start
				v, err := s.Secret(ctx, "fresh", 32)
				if err != nil {
					t.Error(err)
				}
				got[i] = v
			})
		}
		close(start)
		wg.Wait()
		for i := 1; i < n; i++ {
			if !bytes.Equal(got[i], got[0]) {
				t.Fatalf("caller %d got %x, caller 0 got %x", i, got[i], got[0])
			}
		}
	})
}

// feedEntry is a revocation without its seq, for comparing what a step
// appended whatever numbers the backend gave it.
type feedEntry struct {
	SessionID string
	RevokedAt time.Time
}

// feedAfter returns every feed entry above seq, checking that seqs ascend.
func feedAfter(t *testing.T, s Store, after int64) []store.Revocation {
	t.Helper()
	rs, err := s.Revocations(context.Background(), after, 0)
	if err != nil {
		t.Fatalf("Revocations(%d): %v", after, err)
	}
	for i, r := range rs {
		if r.Seq <= after || (i > 0 && r.Seq <= rs[i-1].Seq) {
			t.Fatalf("Revocations(%d): seqs not ascending above the cursor: %+v", after, rs)
		}
	}
	return rs
}

func mustHead(t *testing.T, s Store) int64 {
	t.Helper()
	h, err := s.RevocationHead(context.Background())
	if err != nil {
		t.Fatalf("RevocationHead: %v", err)
	}
	return h
}

// testRevocationFeed checks that each path that ends sessions explicitly
// appends exactly one entry per session it ends, and nothing when it ends
// none; and that pruning never moves the head back.
func testRevocationFeed(t *testing.T, s Store) {
	ctx := context.Background()
	if h := mustHead(t, s); h != 0 {
		t.Fatalf("head of an empty feed = %d, want 0", h)
	}
	if rs := feedAfter(t, s, 0); len(rs) != 0 {
		t.Fatalf("empty feed has entries: %+v", rs)
	}
	mustCreateUser(t, s, user("u1", "alice"))
	mustCreateUser(t, s, user("u2", "bob"))
	mustCreateUser(t, s, user("u3", "carol"))
	for _, sess := range []store.Session{
		session("a1", "u1", at(1)), session("a2", "u1", at(2)), session("a3", "u1", at(3)),
		session("b1", "u2", at(4)), session("b2", "u2", at(5)), session("c1", "u3", at(6)),
	} {
		mustCreateSession(t, s, sess, hash("rt-"+sess.ID))
	}

	// Each step runs against the state the previous ones left and must
	// append exactly want (in any order within the step).
	steps := []struct {
		name string
		do   func() error
		want []feedEntry
	}{
		{"rotation appends nothing", func() error {
			return s.RotateRefreshToken(ctx, rotation("rt-a1", "rt-a1-1", "a1", at(10)))
		}, nil},
		{"revoke a live session", func() error {
			return s.RevokeSession(ctx, "a1", "logout", at(20), store.AuditEvent{})
		}, []feedEntry{{"a1", at(20)}}},
		{"revoke it again: no entry", func() error {
			return s.RevokeSession(ctx, "a1", "revoked_by_admin", at(30), store.AuditEvent{})
		}, nil},
		{"revoke an unknown session: no entry", func() error {
			if err := s.RevokeSession(ctx, "nope", "logout", at(35), store.AuditEvent{}); !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("err = %v, want ErrNotFound", err)
			}
			return nil
		}, nil},
		{"revoke a user's sessions but one: the others not yet revoked", func() error {
			n, err := s.RevokeUserSessions(ctx, "u1", "a3", "logout_all", at(40), store.AuditEvent{})
			if err == nil && n != 1 {
				err = fmt.Errorf("ended %d sessions, want 1 (a2)", n)
			}
			return err
		}, []feedEntry{{"a2", at(40)}}},
		{"revoke a user's sessions again: no entry", func() error {
			_, err := s.RevokeUserSessions(ctx, "u1", "a3", "logout_all", at(45), store.AuditEvent{})
			return err
		}, nil},
		{"revoke all a user's sessions", func() error {
			_, err := s.RevokeUserSessions(ctx, "u2", "", "force_logout", at(50), store.AuditEvent{})
			return err
		}, []feedEntry{{"b1", at(50)}, {"b2", at(50)}}},
		{"delete a user: its sessions not yet revoked", func() error {
			return s.DeleteUser(ctx, "u1", at(60), store.AuditEvent{})
		}, []feedEntry{{"a3", at(60)}}},
		{"delete a user whose sessions all ended: no entry", func() error {
			return s.DeleteUser(ctx, "u2", at(70), store.AuditEvent{})
		}, nil},
		{"delete an unknown user: no entry", func() error {
			if err := s.DeleteUser(ctx, "nobody", at(75), store.AuditEvent{}); !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("err = %v, want ErrNotFound", err)
			}
			return nil
		}, nil},
	}
	var all []store.Revocation
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			head := mustHead(t, s)
			if err := st.do(); err != nil {
				t.Fatal(err)
			}
			added := feedAfter(t, s, head)
			got := map[feedEntry]int{}
			for _, r := range added {
				got[feedEntry{r.SessionID, r.RevokedAt.UTC()}]++
			}
			want := map[feedEntry]int{}
			for _, e := range st.want {
				want[e]++
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("appended %+v, want %+v", added, st.want)
			}
			if h := mustHead(t, s); len(added) > 0 && h != added[len(added)-1].Seq || len(added) == 0 && h != head {
				t.Errorf("head %d after appending %+v (head before %d)", h, added, head)
			}
			all = append(all, added...)
		})
	}
	if rs := feedAfter(t, s, 0); len(rs) != len(all) {
		t.Errorf("whole feed has %d entries, the steps appended %d", len(rs), len(all))
	}

	t.Run("prune keeps the boundary and the head", func(t *testing.T) {
		head := mustHead(t, s)
		n, err := s.PruneRevocations(ctx, at(50))
		if err != nil {
			t.Fatal(err)
		}
		if n != 2 { // a1 at 20, a2 at 40
			t.Errorf("pruned %d, want 2", n)
		}
		var left []string
		for _, r := range feedAfter(t, s, 0) {
			left = append(left, r.SessionID)
		}
		if fmt.Sprint(left) != "[b1 b2 a3]" && fmt.Sprint(left) != "[b2 b1 a3]" {
			t.Errorf("after pruning before 50 s: %v, want b1, b2 (revoked at 50 exactly) and a3", left)
		}
		if n, err := s.PruneRevocations(ctx, at(1000)); err != nil || n != 3 {
			t.Errorf("prune all = %d, %v; want 3", n, err)
		}
		if h := mustHead(t, s); h != head {
			t.Errorf("head %d after pruning everything, want %d: it must not move back", h, head)
		}
		if err := s.RevokeSession(ctx, "c1", "logout", at(1100), store.AuditEvent{}); err != nil {
			t.Fatal(err)
		}
		rs := feedAfter(t, s, head)
		if len(rs) != 1 || rs[0].SessionID != "c1" || rs[0].Seq <= head {
			t.Errorf("after pruning, a new entry = %+v; want c1 with a seq above the old head %d", rs, head)
		}
	})
}

// testRevocationFeedAtomic checks that a feed entry commits with the
// revocation it records: a reader never sees a revoked session without
// its entry, nor an entry whose session is not revoked yet.
func testRevocationFeedAtomic(t *testing.T, s Store) {
	ctx := context.Background()
	const n = 40
	ids := make([]string, n)
	for i := range ids {
		// Each session its own user, so that a user-wide revocation ends
		// exactly one session.
		uid := fmt.Sprintf("u%02d", i)
		mustCreateUser(t, s, user(uid, "user"+uid))
		ids[i] = fmt.Sprintf("s%02d", i)
		mustCreateSession(t, s, session(ids[i], uid, at(i)), hash("rt-"+ids[i]))
	}
	inFeed := func() map[string]bool {
		rs, err := s.Revocations(ctx, 0, 0)
		if err != nil {
			t.Error(err)
		}
		m := map[string]bool{}
		for _, r := range rs {
			m[r.SessionID] = true
		}
		return m
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			// Session first, then feed: a revoked session must be in it.
			for _, id := range ids {
				if sess, err := s.SessionByID(ctx, id); err == nil && sess.Revoked() && !inFeed()[id] {
					t.Errorf("%s is revoked but not in the feed", id)
					return
				}
			}
			// Feed first, then session: an entry's session must be revoked.
			for id := range inFeed() {
				if sess, err := s.SessionByID(ctx, id); err != nil || !sess.Revoked() {
					t.Errorf("%s is in the feed but not revoked (%v)", id, err)
					return
				}
			}
		}
	}()
	for i, id := range ids {
		var err error
		if i%2 == 0 {
			err = s.RevokeSession(ctx, id, "logout", at(100+i), store.AuditEvent{})
		} else {
			_, err = s.RevokeUserSessions(ctx, fmt.Sprintf("u%02d", i), "", "force_logout", at(100+i), store.AuditEvent{})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	if got := len(inFeed()); got != n {
		t.Errorf("feed has %d entries, want %d", got, n)
	}
}

// testRevocationFeedPaging checks after and limit.
func testRevocationFeedPaging(t *testing.T, s Store) {
	ctx := context.Background()
	mustCreateUser(t, s, user("u1", "alice"))
	const n = 7
	var want []string
	for i := range n {
		id := fmt.Sprintf("s%d", i)
		mustCreateSession(t, s, session(id, "u1", at(i)), hash("rt-"+id))
		if err := s.RevokeSession(ctx, id, "logout", at(10+i), store.AuditEvent{}); err != nil {
			t.Fatal(err)
		}
		want = append(want, id)
	}
	for _, limit := range []int{1, 3, 7, 1000} {
		t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
			got := pages(t, limit, n, func(last *store.Revocation) ([]store.Revocation, error) {
				after := int64(0)
				if last != nil {
					after = last.Seq
				}
				return s.Revocations(ctx, after, limit)
			})
			var ids []string
			for i, r := range got {
				ids = append(ids, r.SessionID)
				if !r.RevokedAt.Equal(at(10 + i)) {
					t.Errorf("%s revoked at %v, want %v", r.SessionID, r.RevokedAt, at(10+i))
				}
			}
			if !reflect.DeepEqual(ids, want) {
				t.Errorf("paged %v, want %v", ids, want)
			}
		})
	}
	t.Run("after the head", func(t *testing.T) {
		if rs := feedAfter(t, s, mustHead(t, s)); len(rs) != 0 {
			t.Errorf("entries after the head: %+v", rs)
		}
	})
}
