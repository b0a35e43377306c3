package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// BFFSessions is the storage of the backend for frontend's browser
// sessions (store.BFFSession), with each method's contract. Its consumer,
// the bff package, declares the interface it needs under its own names,
// which the composition root adapts to these methods; this one is the
// contract every backend is held to here, and the errors are the store
// package's sentinels, wrapped with %w.
type BFFSessions interface {
	// CreateBFFSession stores s as given; store.ErrConflict if its hash
	// is taken. A session needs a hash and its CreatedAt, LastUsedAt and
	// ExpiresAt, and a lease is a LeaseHolder and a LeaseUntil or
	// neither; a session without them is refused.
	CreateBFFSession(ctx context.Context, s store.BFFSession) error
	// BFFSession returns the session with the hash, or store.ErrNotFound.
	BFFSession(ctx context.Context, hash []byte) (store.BFFSession, error)
	// TouchBFFSession sets the session's LastUsedAt to at (a non-zero
	// time); store.ErrNotFound if there is no session.
	TouchBFFSession(ctx context.Context, hash []byte, at time.Time) error
	// LeaseBFFRefresh, atomically: if the session has no lease, or its
	// lease has ended (LeaseUntil <= now), sets LeaseHolder to holder and
	// LeaseUntil to until and returns the session as now stored and true;
	// otherwise returns the session unchanged and false, also to the
	// holder of the lease itself. Of concurrent callers, on any node,
	// exactly one gets true while the lease holds. holder must not be
	// empty and should name this one attempt (a random value), and until
	// must be after now. store.ErrNotFound if there is no session.
	LeaseBFFRefresh(ctx context.Context, hash []byte, holder string, now, until time.Time) (store.BFFSession, bool, error)
	// UpdateBFFTokens, only while holder holds the session's lease (it is
	// the LeaseHolder stored, whether or not LeaseUntil has passed: a
	// lapsed lease still holds until another caller takes it), stores
	// tokens, accessExpiresAt (zero: unknown) and expiresAt (not zero),
	// adds one to Version, clears the lease and returns the session so
	// updated, atomically. store.ErrLeaseLost, writing nothing, if holder
	// does not hold the lease (it was released, or another caller took it
	// after it lapsed); store.ErrNotFound if there is no session.
	UpdateBFFTokens(ctx context.Context, hash []byte, holder string, tokens []byte,
		accessExpiresAt, expiresAt time.Time) (store.BFFSession, error)
	// ReleaseBFFRefresh clears the session's lease if holder holds it; it
	// does nothing, and returns no error, if not, or if there is no
	// session.
	ReleaseBFFRefresh(ctx context.Context, hash []byte, holder string) error
	// DeleteBFFSession deletes the session with the hash; no error if
	// there is none (logout is idempotent).
	DeleteBFFSession(ctx context.Context, hash []byte) error
	// DeleteBFFSessionsBySID deletes the sessions of the issuer whose SID
	// is sid, and reports how many; an empty sid deletes nothing.
	DeleteBFFSessionsBySID(ctx context.Context, issuer, sid string) (int, error)
	// DeleteBFFSessionsBySubject deletes the sessions of the issuer whose
	// Subject is subject, and reports how many; an empty subject deletes
	// nothing.
	DeleteBFFSessionsBySubject(ctx context.Context, issuer, subject string) (int, error)
	// PruneBFFSessions deletes the sessions whose ExpiresAt is before
	// before (one expiring at before exactly is kept), and reports how
	// many.
	PruneBFFSessions(ctx context.Context, before time.Time) (int, error)
}

// bffSession is a session of name with every field set but the lease.
func bffSession(name string, created time.Time) store.BFFSession {
	return store.BFFSession{
		Hash:            hash("bff-" + name),
		Issuer:          "https://op.example",
		Subject:         "sub-" + name,
		SID:             "sid-" + name,
		Tokens:          []byte("sealed tokens of " + name),
		AccessExpiresAt: created.Add(5 * time.Minute),
		Version:         1,
		CreatedAt:       created,
		LastUsedAt:      created.Add(time.Second),
		ExpiresAt:       created.Add(24 * time.Hour),
	}
}

// normBFF makes sessions comparable with reflect.DeepEqual whatever
// location a backend returns times in and whether it returns empty bytes
// as nil.
func normBFF(s store.BFFSession) store.BFFSession {
	s.AccessExpiresAt, s.LeaseUntil = s.AccessExpiresAt.UTC(), s.LeaseUntil.UTC()
	s.CreatedAt, s.LastUsedAt, s.ExpiresAt = s.CreatedAt.UTC(), s.LastUsedAt.UTC(), s.ExpiresAt.UTC()
	if len(s.Tokens) == 0 {
		s.Tokens = nil
	}
	return s
}

func mustCreateBFF(t *testing.T, s Store, b store.BFFSession) {
	t.Helper()
	if err := s.CreateBFFSession(context.Background(), b); err != nil {
		t.Fatalf("CreateBFFSession(%s): %v", b.Subject, err)
	}
}

// wantBFF fails the test unless the session with want's hash is stored
// as want.
func wantBFF(t *testing.T, s Store, want store.BFFSession) {
	t.Helper()
	got, err := s.BFFSession(context.Background(), want.Hash)
	if err != nil {
		t.Fatalf("BFFSession(%s): %v", want.Subject, err)
	}
	if !reflect.DeepEqual(normBFF(got), normBFF(want)) {
		t.Errorf("stored %+v\nwant   %+v", got, want)
	}
}

func testBFFSessions(t *testing.T, s Store) {
	ctx := context.Background()
	full := bffSession("full", at(0))
	full.LeaseHolder, full.LeaseUntil, full.Version = "holder-1", at(30), 7
	// No sid, no access token lifetime, no lease.
	bare := bffSession("bare", at(0))
	bare.SID, bare.AccessExpiresAt = "", time.Time{}
	empty := bffSession("empty", at(0))
	empty.Tokens = nil
	for _, b := range []store.BFFSession{full, bare, empty} {
		mustCreateBFF(t, s, b)
	}

	for _, tt := range []struct {
		name    string
		hash    []byte
		want    store.BFFSession
		wantErr error
	}{
		{"every field", full.Hash, full, nil},
		{"no sid, access lifetime or lease", bare.Hash, bare, nil},
		{"no tokens", empty.Hash, empty, nil},
		{"unknown", hash("bff-unknown"), store.BFFSession{}, store.ErrNotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.BFFSession(ctx, tt.hash)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && !reflect.DeepEqual(normBFF(got), normBFF(tt.want)) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}

	t.Run("conflict", func(t *testing.T) {
		other := bffSession("other", at(5))
		other.Hash = full.Hash
		if err := s.CreateBFFSession(ctx, other); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("CreateBFFSession with a taken hash: err = %v, want ErrConflict", err)
		}
		wantBFF(t, s, full)
	})

	t.Run("refused", func(t *testing.T) {
		noHash := bffSession("no-hash", at(0))
		noHash.Hash = nil
		noExpiry := bffSession("no-expiry", at(0))
		noExpiry.ExpiresAt = time.Time{}
		halfLease := bffSession("half-lease", at(0))
		halfLease.LeaseHolder = "holder"
		endOnly := bffSession("end-only", at(0))
		endOnly.LeaseUntil = at(10)
		for _, b := range []store.BFFSession{noHash, noExpiry, halfLease, endOnly} {
			if err := s.CreateBFFSession(ctx, b); err == nil {
				t.Errorf("CreateBFFSession(%s) = nil, want an error", b.Subject)
			}
		}
	})

	t.Run("touch", func(t *testing.T) {
		if err := s.TouchBFFSession(ctx, bare.Hash, at(90)); err != nil {
			t.Fatal(err)
		}
		touched := bare
		touched.LastUsedAt = at(90)
		wantBFF(t, s, touched)
		wantBFF(t, s, full) // only that session
		if err := s.TouchBFFSession(ctx, hash("bff-unknown"), at(90)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("TouchBFFSession of an unknown session: err = %v, want ErrNotFound", err)
		}
	})

	t.Run("delete", func(t *testing.T) {
		for range 2 { // the second finds nothing, and is no error
			if err := s.DeleteBFFSession(ctx, empty.Hash); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.BFFSession(ctx, empty.Hash); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("BFFSession after DeleteBFFSession: err = %v, want ErrNotFound", err)
		}
		wantBFF(t, s, full)
		if err := s.CreateBFFSession(ctx, empty); err != nil {
			t.Errorf("CreateBFFSession of a deleted session's hash: %v", err)
		}
	})
}

func testBFFLease(t *testing.T, s Store) {
	ctx := context.Background()
	// Each case leases at at(100) until at(160), as "me", a session whose
	// lease is as held and until say.
	now, until := at(100), at(160)
	leases := []struct {
		name        string
		held        string
		heldUntil   time.Time
		holder      string
		wantTaken   bool
		wantHolder  string
		wantUntil   time.Time
		wantVersion int64
	}{
		{"free", "", time.Time{}, "me", true, "me", until, 1},
		{"held by another", "other", at(101), "me", false, "other", at(101), 1},
		{"held by the caller", "me", at(101), "me", false, "me", at(101), 1},
		{"ending now", "other", now, "me", true, "me", until, 1},
		{"ended", "other", at(99), "me", true, "me", until, 1},
	}
	for i, tt := range leases {
		t.Run("lease "+tt.name, func(t *testing.T) {
			b := bffSession(fmt.Sprint("lease-", i), at(0))
			b.LeaseHolder, b.LeaseUntil = tt.held, tt.heldUntil
			mustCreateBFF(t, s, b)
			got, taken, err := s.LeaseBFFRefresh(ctx, b.Hash, tt.holder, now, until)
			if err != nil {
				t.Fatal(err)
			}
			if taken != tt.wantTaken {
				t.Errorf("taken = %v, want %v", taken, tt.wantTaken)
			}
			want := b
			want.LeaseHolder, want.LeaseUntil = tt.wantHolder, tt.wantUntil
			if !reflect.DeepEqual(normBFF(got), normBFF(want)) {
				t.Errorf("returned %+v\nwant     %+v", got, want)
			}
			wantBFF(t, s, want)
		})
	}

	t.Run("lease refused", func(t *testing.T) {
		b := bffSession("lease-refused", at(0))
		mustCreateBFF(t, s, b)
		for _, c := range []struct {
			holder     string
			now, until time.Time
		}{
			{"", now, until},
			{"me", now, now},
			{"me", now, at(99)},
			{"me", time.Time{}, until},
		} {
			if _, _, err := s.LeaseBFFRefresh(ctx, b.Hash, c.holder, c.now, c.until); err == nil {
				t.Errorf("LeaseBFFRefresh(%q, %v, %v) = nil error, want one", c.holder, c.now, c.until)
			}
		}
		wantBFF(t, s, b)
		if _, _, err := s.LeaseBFFRefresh(ctx, hash("bff-unknown"), "me", now, until); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("LeaseBFFRefresh of an unknown session: err = %v, want ErrNotFound", err)
		}
	})

	// Each case updates as holder a session whose lease is as held and
	// until say.
	newTokens, newAccess, newExpiry := []byte("sealed tokens, refreshed"), at(400), at(90000)
	updates := []struct {
		name      string
		held      string
		heldUntil time.Time
		holder    string
		wantErr   error
	}{
		{"by the holder", "me", until, "me", nil},
		// The lease lapsed but no one took it: still the holder's.
		{"by the holder of a lapsed lease", "me", at(1), "me", nil},
		{"by another", "other", until, "me", store.ErrLeaseLost},
		{"without a lease", "", time.Time{}, "me", store.ErrLeaseLost},
		{"by no one", "", time.Time{}, "", store.ErrLeaseLost},
		{"by no one, of a leased session", "other", until, "", store.ErrLeaseLost},
	}
	for i, tt := range updates {
		t.Run("update "+tt.name, func(t *testing.T) {
			b := bffSession(fmt.Sprint("update-", i), at(0))
			b.LeaseHolder, b.LeaseUntil, b.Version = tt.held, tt.heldUntil, 3
			mustCreateBFF(t, s, b)
			got, err := s.UpdateBFFTokens(ctx, b.Hash, tt.holder, newTokens, newAccess, newExpiry)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			want := b // nothing written
			if err == nil {
				want.Tokens, want.AccessExpiresAt, want.ExpiresAt = newTokens, newAccess, newExpiry
				want.Version, want.LeaseHolder, want.LeaseUntil = 4, "", time.Time{}
				if !reflect.DeepEqual(normBFF(got), normBFF(want)) {
					t.Errorf("returned %+v\nwant     %+v", got, want)
				}
			}
			wantBFF(t, s, want)
		})
	}

	t.Run("update of an unknown session", func(t *testing.T) {
		if _, err := s.UpdateBFFTokens(ctx, hash("bff-unknown"), "me", newTokens, newAccess, newExpiry); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
	})

	t.Run("update without an access lifetime", func(t *testing.T) {
		b := bffSession("update-no-access", at(0))
		b.LeaseHolder, b.LeaseUntil = "me", until
		mustCreateBFF(t, s, b)
		got, err := s.UpdateBFFTokens(ctx, b.Hash, "me", newTokens, time.Time{}, newExpiry)
		if err != nil {
			t.Fatal(err)
		}
		want := b
		want.Tokens, want.AccessExpiresAt, want.ExpiresAt = newTokens, time.Time{}, newExpiry
		want.Version, want.LeaseHolder, want.LeaseUntil = 2, "", time.Time{}
		if !reflect.DeepEqual(normBFF(got), normBFF(want)) {
			t.Errorf("returned %+v\nwant     %+v", got, want)
		}
		wantBFF(t, s, want)
	})

	// The life of one refresh: leased, then a second caller waits, the
	// first updates, and the lease is free again for the next refresh.
	t.Run("refresh cycle", func(t *testing.T) {
		b := bffSession("cycle", at(0))
		mustCreateBFF(t, s, b)
		if _, taken, err := s.LeaseBFFRefresh(ctx, b.Hash, "first", now, until); err != nil || !taken {
			t.Fatalf("first lease: %v, %v", taken, err)
		}
		if _, taken, err := s.LeaseBFFRefresh(ctx, b.Hash, "second", at(101), at(161)); err != nil || taken {
			t.Fatalf("second lease while the first holds: %v, %v", taken, err)
		}
		got, err := s.UpdateBFFTokens(ctx, b.Hash, "first", newTokens, newAccess, newExpiry)
		if err != nil || got.Version != 2 || got.LeaseHolder != "" {
			t.Fatalf("update by the first: %+v, %v", got, err)
		}
		if _, err := s.UpdateBFFTokens(ctx, b.Hash, "first", []byte("again"), newAccess, newExpiry); !errors.Is(err, store.ErrLeaseLost) {
			t.Errorf("second update under the spent lease: err = %v, want ErrLeaseLost", err)
		}
		got, taken, err := s.LeaseBFFRefresh(ctx, b.Hash, "second", at(102), at(162))
		if err != nil || !taken || got.Version != 2 || got.LeaseHolder != "second" {
			t.Errorf("lease after the update: %+v, %v, %v", got, taken, err)
		}
	})

	t.Run("release", func(t *testing.T) {
		b := bffSession("release", at(0))
		b.LeaseHolder, b.LeaseUntil = "me", until
		mustCreateBFF(t, s, b)
		for _, step := range []struct {
			holder string
			want   string
		}{
			{"other", "me"}, // not the holder's: nothing
			{"", "me"},
			{"me", ""},
			{"me", ""}, // released already: nothing, and no error
		} {
			if err := s.ReleaseBFFRefresh(ctx, b.Hash, step.holder); err != nil {
				t.Fatalf("ReleaseBFFRefresh(%q): %v", step.holder, err)
			}
			want := b
			if step.want == "" {
				want.LeaseHolder, want.LeaseUntil = "", time.Time{}
			}
			wantBFF(t, s, want)
		}
		if _, taken, err := s.LeaseBFFRefresh(ctx, b.Hash, "next", now, until); err != nil || !taken {
			t.Errorf("lease after the release: %v, %v", taken, err)
		}
		if err := s.ReleaseBFFRefresh(ctx, hash("bff-unknown"), "me"); err != nil {
			t.Errorf("ReleaseBFFRefresh of an unknown session: %v", err)
		}
	})
}

// errNotLeased is what a race's caller reports when LeaseBFFRefresh said
// false.
var errNotLeased = errors.New("lease not taken")

// testBFFLeaseConcurrent: of concurrent LeaseBFFRefresh calls exactly one
// takes the lease, whether it was free or had lapsed; of the callers'
// concurrent updates only the holder's applies, once.
func testBFFLeaseConcurrent(t *testing.T, s Store) {
	ctx := context.Background()
	const n = 20
	b := bffSession("concurrent", at(0))
	mustCreateBFF(t, s, b)
	version := b.Version
	for round := range 3 {
		// Round 0 finds the lease free; later rounds find the previous
		// round's lease lapsed (its holder never updated).
		now := at(1000 * (round + 1))
		holder := func(i int) string { return fmt.Sprint("round-", round, "-holder-", i) }
		winner := race(t, fmt.Sprint("round ", round, ": lease"), n, errNotLeased, func(i int) error {
			got, taken, err := s.LeaseBFFRefresh(ctx, b.Hash, holder(i), now, now.Add(time.Minute))
			switch {
			case err != nil:
				return err
			case !taken:
				if got.LeaseHolder == holder(i) || got.LeaseHolder == "" {
					return fmt.Errorf("not taken, yet the session returned has lease %q", got.LeaseHolder)
				}
				return errNotLeased
			case got.LeaseHolder != holder(i):
				return fmt.Errorf("taken, yet the session returned has lease %q", got.LeaseHolder)
			}
			return nil
		})
		got, err := s.BFFSession(ctx, b.Hash)
		if err != nil {
			t.Fatal(err)
		}
		if got.LeaseHolder != holder(winner) || !got.LeaseUntil.Equal(now.Add(time.Minute)) {
			t.Errorf("round %d: stored lease %q until %v, want the winner %q's", round, got.LeaseHolder, got.LeaseUntil, holder(winner))
		}
		if round < 2 {
			continue // the lease lapses
		}
		// Every caller tries to store its tokens; only the winner may.
		race(t, fmt.Sprint("round ", round, ": update"), n, store.ErrLeaseLost, func(i int) error {
			got, err := s.UpdateBFFTokens(ctx, b.Hash, holder(i), []byte(holder(i)), now.Add(5*time.Minute), now.Add(time.Hour))
			if err == nil && i != winner {
				return fmt.Errorf("updated by %q, not the lease's holder %q", holder(i), holder(winner))
			}
			if err == nil && got.Version != version+1 {
				return fmt.Errorf("version %d after the update, want %d", got.Version, version+1)
			}
			return err
		})
		got, err = s.BFFSession(ctx, b.Hash)
		if err != nil {
			t.Fatal(err)
		}
		if got.Version != version+1 || string(got.Tokens) != holder(winner) || got.LeaseHolder != "" {
			t.Errorf("after the updates: version %d, tokens %q, lease %q; want version %d, the winner's tokens, no lease",
				got.Version, got.Tokens, got.LeaseHolder, version+1)
		}
	}
}

// bffIssuers are the issuers of case i of testDeleteBFFSessions: its
// own, so that each case deletes among sessions of its own.
func bffIssuers(i int) (a, b string) {
	a = fmt.Sprintf("https://op-%d.example", i)
	return a, a + "/tenant-b"
}

// bffFixture creates, for case i, sessions of its two issuers that share
// subjects and sids, and returns their names.
func bffFixture(t *testing.T, s Store, i int) []string {
	t.Helper()
	a, b := bffIssuers(i)
	fixture := []struct {
		name, issuer, subject, sid string
	}{
		{"a-alice-x", a, "alice", "x"},
		{"a-alice-y", a, "alice", "y"},
		{"a-bob-x", a, "bob", "x"}, // sids are the provider's: two subjects may share one
		{"a-carol", a, "carol", ""},
		{"a-dave", a, "dave", ""},
		{"b-alice-x", b, "alice", "x"},
		{"b-erin", b, "erin", ""},
		// The issuer is compared exactly: this one is not a's.
		{"a/-alice-x", a + "/", "alice", "x"},
	}
	var names []string
	for _, f := range fixture {
		sess := bffSession(fmt.Sprint("delete-", i, "-", f.name), at(0))
		sess.Issuer, sess.Subject, sess.SID = f.issuer, f.subject, f.sid
		mustCreateBFF(t, s, sess)
		names = append(names, f.name)
	}
	return names
}

func testDeleteBFFSessions(t *testing.T, s Store) {
	ctx := context.Background()
	bySID := func(sid string, other bool) func(a, b string) (int, error) {
		return func(a, b string) (int, error) {
			if other {
				a = b
			}
			return s.DeleteBFFSessionsBySID(ctx, a, sid)
		}
	}
	bySubject := func(subject string, other bool) func(a, b string) (int, error) {
		return func(a, b string) (int, error) {
			if other {
				a = b
			}
			return s.DeleteBFFSessionsBySubject(ctx, a, subject)
		}
	}
	tests := []struct {
		name        string
		del         func(a, b string) (int, error)
		wantDeleted []string
	}{
		{"by sid", bySID("x", false), []string{"a-alice-x", "a-bob-x"}},
		{"by sid of the other issuer", bySID("x", true), []string{"b-alice-x"}},
		{"by an unknown sid", bySID("z", false), nil},
		{"by the empty sid", bySID("", false), nil},
		{"by the empty sid of the other issuer", bySID("", true), nil},
		{"by sid is exact", bySID("X", false), nil},
		{"by sid of an unknown issuer", func(string, string) (int, error) {
			return s.DeleteBFFSessionsBySID(ctx, "https://elsewhere.example", "x")
		}, nil},
		{"by subject", bySubject("alice", false), []string{"a-alice-x", "a-alice-y"}},
		{"by subject without a sid", bySubject("carol", false), []string{"a-carol"}},
		{"by subject of the other issuer", bySubject("alice", true), []string{"b-alice-x"}},
		{"by an unknown subject", bySubject("zoe", false), nil},
		{"by the empty subject", bySubject("", false), nil},
		{"by subject is exact", bySubject("Alice", false), nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			names := bffFixture(t, s, i)
			n, err := tt.del(bffIssuers(i))
			if err != nil {
				t.Fatal(err)
			}
			if n != len(tt.wantDeleted) {
				t.Errorf("deleted %d, want %d (%q)", n, len(tt.wantDeleted), tt.wantDeleted)
			}
			for _, name := range names {
				_, err := s.BFFSession(ctx, hash(fmt.Sprint("bff-delete-", i, "-", name)))
				switch deleted := slices.Contains(tt.wantDeleted, name); {
				case deleted && !errors.Is(err, store.ErrNotFound):
					t.Errorf("%s: err = %v, want it deleted", name, err)
				case !deleted && err != nil:
					t.Errorf("%s: err = %v, want it kept", name, err)
				}
			}
		})
	}
}

func testPruneBFFSessions(t *testing.T, s Store) {
	ctx := context.Background()
	for i, sec := range []int{10, 20, 30} {
		b := bffSession(fmt.Sprint("prune-", i), at(0))
		b.ExpiresAt = at(sec)
		mustCreateBFF(t, s, b)
	}
	for _, tt := range []struct {
		before time.Time
		want   int
		kept   []int
	}{
		{at(10), 0, []int{0, 1, 2}}, // expiring at before exactly: kept
		{at(20), 1, []int{1, 2}},
		{at(20), 0, []int{1, 2}},
		{at(31), 2, nil},
	} {
		n, err := s.PruneBFFSessions(ctx, tt.before)
		if err != nil {
			t.Fatal(err)
		}
		if n != tt.want {
			t.Errorf("PruneBFFSessions(%v) = %d, want %d", tt.before, n, tt.want)
		}
		for i := range 3 {
			_, err := s.BFFSession(ctx, hash(fmt.Sprint("bff-prune-", i)))
			if kept := slices.Contains(tt.kept, i); kept != (err == nil) {
				t.Errorf("after PruneBFFSessions(%v): session %d: err = %v, want kept %v", tt.before, i, err, kept)
			}
		}
	}
}
