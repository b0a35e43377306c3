package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// code is an authorization code of the session with every field set; its
// hash is that of name.
func code(name, sessionID, userID string, created time.Time) store.AuthCode {
	return store.AuthCode{
		Hash:          hash("code-" + name),
		ClientID:      "client-" + name,
		UserID:        userID,
		SessionID:     sessionID,
		RedirectURI:   "https://app.example/callback?from=" + name,
		Scope:         "openid profile orders:read",
		Audience:      []string{"https://api.example", "https://billing.example"},
		CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		Nonce:         "nonce-" + name,
		AuthTime:      created.Add(-time.Minute),
		CreatedAt:     created,
		ExpiresAt:     created.Add(time.Minute),
		Grant:         []byte("sealed tokens of " + name),
	}
}

func pushedRequest(name string, created time.Time) store.PushedRequest {
	return store.PushedRequest{
		Hash:      hash("par-" + name),
		ClientID:  "client-" + name,
		Params:    "response_type=code&client_id=client-" + name + "&scope=openid+profile&state=" + name,
		CreatedAt: created,
		ExpiresAt: created.Add(90 * time.Second),
	}
}

// normCode, normPushed and normConsent make records comparable with
// reflect.DeepEqual whatever location a backend returns times in and
// whether it returns an empty slice as nil.
func normCode(c store.AuthCode) store.AuthCode {
	c.AuthTime, c.CreatedAt, c.ExpiresAt, c.RedeemedAt = c.AuthTime.UTC(), c.CreatedAt.UTC(), c.ExpiresAt.UTC(), c.RedeemedAt.UTC()
	if len(c.Audience) == 0 {
		c.Audience = nil
	}
	return c
}

func normPushed(p store.PushedRequest) store.PushedRequest {
	p.CreatedAt, p.ExpiresAt = p.CreatedAt.UTC(), p.ExpiresAt.UTC()
	return p
}

func normConsent(c store.Consent) store.Consent {
	c.GrantedAt = c.GrantedAt.UTC()
	if len(c.Scopes) == 0 {
		c.Scopes = nil
	}
	return c
}

func mustCreateCode(t *testing.T, s Store, c store.AuthCode) {
	t.Helper()
	if err := s.CreateCode(context.Background(), c); err != nil {
		t.Fatalf("CreateCode(%s): %v", c.Nonce, err)
	}
}

func mustCreatePushed(t *testing.T, s Store, p store.PushedRequest) {
	t.Helper()
	if err := s.CreatePushedRequest(context.Background(), p); err != nil {
		t.Fatalf("CreatePushedRequest(%s): %v", p.ClientID, err)
	}
}

func mustPutConsent(t *testing.T, s Store, c store.Consent) {
	t.Helper()
	if err := s.PutConsent(context.Background(), c); err != nil {
		t.Fatalf("PutConsent(%s, %s): %v", c.UserID, c.ClientID, err)
	}
}

// redeemed is c as the redeemer gets it; spent is c as a replay gets it,
// its grant cleared by the redemption.
func redeemed(c store.AuthCode, at time.Time) store.AuthCode {
	c.RedeemedAt = at
	return c
}

func spent(c store.AuthCode, at time.Time) store.AuthCode {
	c.RedeemedAt, c.Grant = at, nil
	return c
}

func testCodes(t *testing.T, s Store) {
	ctx := context.Background()
	mustCreateUser(t, s, user("u1", "alice"))
	mustCreateSession(t, s, session("s1", "u1", at(0)), hash("rt-s1"))

	t.Run("round trip", func(t *testing.T) {
		c := code("full", "s1", "u1", at(10))
		mustCreateCode(t, s, c)
		got, err := s.RedeemCode(ctx, c.Hash, at(20))
		if err != nil {
			t.Fatalf("RedeemCode: %v", err)
		}
		if want := redeemed(c, at(20)); !reflect.DeepEqual(normCode(got), normCode(want)) {
			t.Errorf("got  %+v\nwant %+v", got, want)
		}
	})

	t.Run("round trip of a code with no audience, challenge or nonce", func(t *testing.T) {
		c := code("bare", "s1", "u1", at(10))
		c.Audience, c.CodeChallenge, c.Nonce, c.Scope, c.Grant = nil, "", "", "", nil
		mustCreateCode(t, s, c)
		got, err := s.RedeemCode(ctx, c.Hash, at(20))
		if err != nil {
			t.Fatalf("RedeemCode: %v", err)
		}
		if want := redeemed(c, at(20)); !reflect.DeepEqual(normCode(got), normCode(want)) {
			t.Errorf("got  %+v\nwant %+v", got, want)
		}
	})

	t.Run("duplicate hash is a conflict", func(t *testing.T) {
		c := code("dup", "s1", "u1", at(10))
		mustCreateCode(t, s, c)
		other := code("other", "s1", "u1", at(11))
		other.Hash = c.Hash
		if err := s.CreateCode(ctx, other); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("CreateCode(duplicate): err = %v, want ErrConflict", err)
		}
		got, err := s.RedeemCode(ctx, c.Hash, at(20))
		if err != nil {
			t.Fatalf("RedeemCode: %v", err)
		}
		if want := redeemed(c, at(20)); !reflect.DeepEqual(normCode(got), normCode(want)) {
			t.Errorf("after the conflict: %+v\nwant %+v", got, want)
		}
	})

	t.Run("redeemed once", func(t *testing.T) {
		c := code("once", "s1", "u1", at(10))
		mustCreateCode(t, s, c)
		if _, err := s.RedeemCode(ctx, c.Hash, at(20)); err != nil {
			t.Fatalf("RedeemCode: %v", err)
		}
		// A replay gets the code as first redeemed, so that the caller
		// can revoke what it was exchanged for.
		got, err := s.RedeemCode(ctx, c.Hash, at(30))
		if !errors.Is(err, store.ErrAlreadySpent) {
			t.Fatalf("RedeemCode again: err = %v, want ErrAlreadySpent", err)
		}
		if want := spent(c, at(20)); !reflect.DeepEqual(normCode(got), normCode(want)) {
			t.Errorf("replay returned %+v\nwant          %+v", got, want)
		}
		if _, err := s.RedeemCode(ctx, c.Hash, at(40)); !errors.Is(err, store.ErrAlreadySpent) {
			t.Errorf("RedeemCode a third time: err = %v, want ErrAlreadySpent", err)
		}
	})

	t.Run("an expired code is returned as it is", func(t *testing.T) {
		c := code("late", "s1", "u1", at(10))
		mustCreateCode(t, s, c)
		got, err := s.RedeemCode(ctx, c.Hash, c.ExpiresAt.Add(time.Hour))
		if err != nil {
			t.Fatalf("RedeemCode: %v", err)
		}
		if want := redeemed(c, c.ExpiresAt.Add(time.Hour)); !reflect.DeepEqual(normCode(got), normCode(want)) {
			t.Errorf("got  %+v\nwant %+v", got, want)
		}
	})

	t.Run("unknown hash", func(t *testing.T) {
		if _, err := s.RedeemCode(ctx, hash("no such code"), at(20)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("RedeemCode: err = %v, want ErrNotFound", err)
		}
	})
}

// rounds is how many times the concurrent tests race: on PostgreSQL the
// pool dials connections as the first round asks for them, so that round's
// callers may well run one after the other; the later rounds race over
// connections already open.
const rounds = 5

// testRedeemCodeConcurrent: of concurrent redemptions of one code (on
// PostgreSQL over several of the pool's connections, as several nodes
// would), exactly one succeeds and every other is told of the replay.
func testRedeemCodeConcurrent(t *testing.T, s Store) {
	ctx := context.Background()
	mustCreateUser(t, s, user("u1", "alice"))
	mustCreateSession(t, s, session("s1", "u1", at(0)), hash("rt-s1"))

	const n = 20
	for round := range rounds {
		c := code(fmt.Sprint("raced-", round), "s1", "u1", at(10))
		mustCreateCode(t, s, c)
		got := make([]store.AuthCode, n)
		winner := race(t, fmt.Sprint("round ", round, ": redemption"), n, store.ErrAlreadySpent, func(i int) (err error) {
			got[i], err = s.RedeemCode(ctx, c.Hash, at(20+i))
			return err
		})
		// Only the winner gets the grant; the others see the code as the
		// winner left it.
		for i := range n {
			want := spent(c, at(20+winner))
			if i == winner {
				want = redeemed(c, at(20+winner))
			}
			if !reflect.DeepEqual(normCode(got[i]), normCode(want)) {
				t.Errorf("round %d: redemption %d returned %+v\nwant %+v", round, i, got[i], want)
			}
		}
	}
}

func testPruneCodes(t *testing.T, s Store) {
	ctx := context.Background()
	mustCreateUser(t, s, user("u1", "alice"))
	mustCreateSession(t, s, session("s1", "u1", at(0)), hash("rt-s1"))
	expired := code("expired", "s1", "u1", at(0)) // expires at(60)
	expiredRedeemed := code("expired-redeemed", "s1", "u1", at(10))
	atCutoff := code("at-cutoff", "s1", "u1", at(40)) // expires at(100): not before it
	live := code("live", "s1", "u1", at(90))
	for _, c := range []store.AuthCode{expired, expiredRedeemed, atCutoff, live} {
		mustCreateCode(t, s, c)
	}
	if _, err := s.RedeemCode(ctx, expiredRedeemed.Hash, at(20)); err != nil {
		t.Fatal(err)
	}

	n, err := s.PruneCodes(ctx, at(100))
	if err != nil {
		t.Fatalf("PruneCodes: %v", err)
	}
	if n != 2 {
		t.Errorf("PruneCodes = %d, want 2", n)
	}
	for _, tt := range []struct {
		c       store.AuthCode
		wantErr error
	}{
		{expired, store.ErrNotFound},
		{expiredRedeemed, store.ErrNotFound},
		{atCutoff, nil},
		{live, nil},
	} {
		if _, err := s.RedeemCode(ctx, tt.c.Hash, at(110)); !errors.Is(err, tt.wantErr) {
			t.Errorf("RedeemCode(%s) after the prune: err = %v, want %v", tt.c.Nonce, err, tt.wantErr)
		}
	}
	if n, err := s.PruneCodes(ctx, at(100)); err != nil || n != 0 {
		t.Errorf("PruneCodes again = %d, %v; want 0", n, err)
	}
}

func testPushedRequests(t *testing.T, s Store) {
	ctx := context.Background()

	t.Run("round trip, used once", func(t *testing.T) {
		p := pushedRequest("once", at(10))
		mustCreatePushed(t, s, p)
		got, err := s.TakePushedRequest(ctx, p.Hash)
		if err != nil {
			t.Fatalf("TakePushedRequest: %v", err)
		}
		if !reflect.DeepEqual(normPushed(got), normPushed(p)) {
			t.Errorf("got  %+v\nwant %+v", got, p)
		}
		if _, err := s.TakePushedRequest(ctx, p.Hash); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("TakePushedRequest again: err = %v, want ErrNotFound", err)
		}
	})

	t.Run("duplicate hash is a conflict", func(t *testing.T) {
		p := pushedRequest("dup", at(10))
		mustCreatePushed(t, s, p)
		other := pushedRequest("other", at(11))
		other.Hash = p.Hash
		if err := s.CreatePushedRequest(ctx, other); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("CreatePushedRequest(duplicate): err = %v, want ErrConflict", err)
		}
		got, err := s.TakePushedRequest(ctx, p.Hash)
		if err != nil {
			t.Fatalf("TakePushedRequest: %v", err)
		}
		if !reflect.DeepEqual(normPushed(got), normPushed(p)) {
			t.Errorf("after the conflict: %+v\nwant %+v", got, p)
		}
	})

	t.Run("an expired request is returned as it is", func(t *testing.T) {
		p := pushedRequest("late", at(-3600))
		mustCreatePushed(t, s, p)
		got, err := s.TakePushedRequest(ctx, p.Hash)
		if err != nil {
			t.Fatalf("TakePushedRequest: %v", err)
		}
		if !reflect.DeepEqual(normPushed(got), normPushed(p)) {
			t.Errorf("got  %+v\nwant %+v", got, p)
		}
	})

	t.Run("unknown hash", func(t *testing.T) {
		if _, err := s.TakePushedRequest(ctx, hash("no such request")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("TakePushedRequest: err = %v, want ErrNotFound", err)
		}
	})
}

// testTakePushedRequestConcurrent: of concurrent takes of one request,
// exactly one gets it.
func testTakePushedRequestConcurrent(t *testing.T, s Store) {
	ctx := context.Background()
	const n = 20
	for round := range rounds {
		p := pushedRequest(fmt.Sprint("raced-", round), at(10))
		mustCreatePushed(t, s, p)
		got := make([]store.PushedRequest, n)
		winner := race(t, fmt.Sprint("round ", round, ": take"), n, store.ErrNotFound, func(i int) (err error) {
			got[i], err = s.TakePushedRequest(ctx, p.Hash)
			return err
		})
		if !reflect.DeepEqual(normPushed(got[winner]), normPushed(p)) {
			t.Errorf("round %d: the winner got %+v\nwant %+v", round, got[winner], p)
		}
	}
}

func testPrunePushedRequests(t *testing.T, s Store) {
	ctx := context.Background()
	expired := pushedRequest("expired", at(0))     // expires at(90)
	atCutoff := pushedRequest("at-cutoff", at(10)) // expires at(100): not before it
	live := pushedRequest("live", at(50))
	for _, p := range []store.PushedRequest{expired, atCutoff, live} {
		mustCreatePushed(t, s, p)
	}
	n, err := s.PrunePushedRequests(ctx, at(100))
	if err != nil {
		t.Fatalf("PrunePushedRequests: %v", err)
	}
	if n != 1 {
		t.Errorf("PrunePushedRequests = %d, want 1", n)
	}
	for _, tt := range []struct {
		p       store.PushedRequest
		wantErr error
	}{
		{expired, store.ErrNotFound},
		{atCutoff, nil},
		{live, nil},
	} {
		if _, err := s.TakePushedRequest(ctx, tt.p.Hash); !errors.Is(err, tt.wantErr) {
			t.Errorf("TakePushedRequest(%s) after the prune: err = %v, want %v", tt.p.ClientID, err, tt.wantErr)
		}
	}
}

func consentClientIDs(cs []store.Consent) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.ClientID)
	}
	return out
}

func testConsents(t *testing.T, s Store) {
	ctx := context.Background()
	mustCreateUser(t, s, user("u1", "alice"))
	mustCreateUser(t, s, user("u2", "bob"))
	mustConsent := func(t *testing.T, userID, clientID string) store.Consent {
		t.Helper()
		got, err := s.Consent(ctx, userID, clientID)
		if err != nil {
			t.Fatalf("Consent(%s, %s): %v", userID, clientID, err)
		}
		return got
	}

	t.Run("none", func(t *testing.T) {
		if _, err := s.Consent(ctx, "u1", "app"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Consent: err = %v, want ErrNotFound", err)
		}
		if got, err := s.Consents(ctx, "u1"); err != nil || len(got) != 0 {
			t.Errorf("Consents = %v, %v; want none", consentClientIDs(got), err)
		}
	})

	first := store.Consent{UserID: "u1", ClientID: "app", Scopes: []string{"openid", "profile"}, GrantedAt: at(10)}
	t.Run("round trip", func(t *testing.T) {
		mustPutConsent(t, s, first)
		if got := mustConsent(t, "u1", "app"); !reflect.DeepEqual(normConsent(got), normConsent(first)) {
			t.Errorf("got  %+v\nwant %+v", got, first)
		}
	})

	t.Run("put replaces", func(t *testing.T) {
		other := store.Consent{UserID: "u2", ClientID: "app", Scopes: []string{"openid"}, GrantedAt: at(5)}
		mustPutConsent(t, s, other)
		second := store.Consent{UserID: "u1", ClientID: "app", Scopes: []string{"openid", "orders:read"}, GrantedAt: at(20)}
		mustPutConsent(t, s, second)
		if got := mustConsent(t, "u1", "app"); !reflect.DeepEqual(normConsent(got), normConsent(second)) {
			t.Errorf("got  %+v\nwant %+v", got, second)
		}
		if got := mustConsent(t, "u2", "app"); !reflect.DeepEqual(normConsent(got), normConsent(other)) {
			t.Errorf("another user's consent changed: %+v\nwant %+v", got, other)
		}
		none := store.Consent{UserID: "u1", ClientID: "app", GrantedAt: at(30)}
		mustPutConsent(t, s, none)
		if got := mustConsent(t, "u1", "app"); !reflect.DeepEqual(normConsent(got), normConsent(none)) {
			t.Errorf("got  %+v\nwant %+v", got, none)
		}
	})

	t.Run("listed by client id, byte by byte", func(t *testing.T) {
		for i, id := range []string{"c.a", "c-b", "Zeta", "c_a"} {
			mustPutConsent(t, s, store.Consent{UserID: "u1", ClientID: id, Scopes: []string{"openid"}, GrantedAt: at(40 + i)})
		}
		mustPutConsent(t, s, store.Consent{UserID: "u2", ClientID: "bob-only", Scopes: []string{"openid"}, GrantedAt: at(50)})
		got, err := s.Consents(ctx, "u1")
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"Zeta", "app", "c-b", "c.a", "c_a"}
		if ids := consentClientIDs(got); !reflect.DeepEqual(ids, want) {
			t.Fatalf("Consents(u1) = %v, want %v", ids, want)
		}
		for _, c := range got {
			if c.UserID != "u1" {
				t.Errorf("Consents(u1) listed %+v", c)
			}
			if stored := mustConsent(t, "u1", c.ClientID); !reflect.DeepEqual(normConsent(c), normConsent(stored)) {
				t.Errorf("listed %+v\nread   %+v", c, stored)
			}
		}
	})

	t.Run("delete", func(t *testing.T) {
		if err := s.DeleteConsent(ctx, "u1", "app"); err != nil {
			t.Fatalf("DeleteConsent: %v", err)
		}
		if _, err := s.Consent(ctx, "u1", "app"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Consent after delete: err = %v, want ErrNotFound", err)
		}
		if err := s.DeleteConsent(ctx, "u1", "app"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("DeleteConsent again: err = %v, want ErrNotFound", err)
		}
		if err := s.DeleteConsent(ctx, "u1", "never-granted"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("DeleteConsent(never granted): err = %v, want ErrNotFound", err)
		}
		mustConsent(t, "u2", "app") // another user's consent for the client stays
		got, err := s.Consents(ctx, "u1")
		if err != nil {
			t.Fatal(err)
		}
		if ids := consentClientIDs(got); !reflect.DeepEqual(ids, []string{"Zeta", "c-b", "c.a", "c_a"}) {
			t.Errorf("Consents(u1) after delete = %v", ids)
		}
	})
}

// testAuthorizationCascade: a code goes with its session and a consent
// with its user, whichever way they are deleted.
func testAuthorizationCascade(t *testing.T, s Store) {
	ctx := context.Background()
	mustCreateUser(t, s, user("u1", "alice"))
	mustCreateUser(t, s, user("u2", "bob"))
	old := session("old", "u1", at(0))
	old.ExpiresAt = at(100)
	mustCreateSession(t, s, old, hash("rt-old"))
	mustCreateSession(t, s, session("a1", "u1", at(0)), hash("rt-a1"))
	mustCreateSession(t, s, session("b1", "u2", at(0)), hash("rt-b1"))
	codes := map[string]store.AuthCode{}
	for _, sess := range []struct{ id, userID string }{{"old", "u1"}, {"a1", "u1"}, {"b1", "u2"}} {
		c := code("of-"+sess.id, sess.id, sess.userID, at(10))
		c.ExpiresAt = at(24 * 3600) // outlives the prune below
		mustCreateCode(t, s, c)
		codes[sess.id] = c
	}
	for _, u := range []string{"u1", "u2"} {
		mustPutConsent(t, s, store.Consent{UserID: u, ClientID: "app", Scopes: []string{"openid"}, GrantedAt: at(10)})
	}
	redeem := func(sess string) error {
		_, err := s.RedeemCode(ctx, codes[sess].Hash, at(200))
		return err
	}
	consent := func(u string) error {
		_, err := s.Consent(ctx, u, "app")
		return err
	}

	t.Run("a pruned session's codes go", func(t *testing.T) {
		if n, err := s.PruneSessions(ctx, at(200), 365*24*time.Hour); err != nil || n != 1 {
			t.Fatalf("PruneSessions = %d, %v; want 1", n, err)
		}
		if err := redeem("old"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("RedeemCode(pruned session's code): err = %v, want ErrNotFound", err)
		}
	})

	t.Run("a deleted user's codes and consents go", func(t *testing.T) {
		ev := store.AuditEvent{Time: at(300), Type: "user_deleted", ActorID: "u2", UserID: "u1", Outcome: "success"}
		if err := s.DeleteUser(ctx, "u1", at(300), ev); err != nil {
			t.Fatalf("DeleteUser: %v", err)
		}
		for _, tt := range []struct {
			name    string
			err     error
			wantErr error
		}{
			{"code of the user's session", redeem("a1"), store.ErrNotFound},
			{"the user's consent", consent("u1"), store.ErrNotFound},
			{"code of another user's session", redeem("b1"), nil},
			{"another user's consent", consent("u2"), nil},
		} {
			if !errors.Is(tt.err, tt.wantErr) {
				t.Errorf("%s: err = %v, want %v", tt.name, tt.err, tt.wantErr)
			}
		}
		if got, err := s.Consents(ctx, "u1"); err != nil || len(got) != 0 {
			t.Errorf("Consents(deleted user) = %v, %v; want none", consentClientIDs(got), err)
		}
	})
}

// testClientAssertions: a client's assertion id is used once; another
// client may use the same jti; pruning forgets expired ids, which may then
// be used again (an expired assertion is refused before it gets here).
func testClientAssertions(t *testing.T, s Store) {
	ctx := context.Background()
	if err := s.UseClientAssertion(ctx, "c1", hash("jti-1"), at(100)); err != nil {
		t.Fatalf("first use: %v", err)
	}
	if err := s.UseClientAssertion(ctx, "c1", hash("jti-1"), at(100)); !errors.Is(err, store.ErrAlreadySpent) {
		t.Fatalf("second use: %v, want ErrAlreadySpent", err)
	}
	if err := s.UseClientAssertion(ctx, "c2", hash("jti-1"), at(100)); err != nil {
		t.Fatalf("another client's same jti: %v", err)
	}
	if err := s.UseClientAssertion(ctx, "c1", hash("jti-2"), at(200)); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneClientAssertions(ctx, at(150)); err != nil || n != 2 {
		t.Fatalf("PruneClientAssertions = %d, %v; want 2", n, err)
	}
	if err := s.UseClientAssertion(ctx, "c1", hash("jti-2"), at(200)); !errors.Is(err, store.ErrAlreadySpent) {
		t.Fatalf("an unexpired id after the prune: %v, want ErrAlreadySpent", err)
	}
	if err := s.UseClientAssertion(ctx, "c1", hash("jti-1"), at(300)); err != nil {
		t.Fatalf("a pruned id: %v", err)
	}
}

// testClientAssertionsConcurrent: of concurrent uses of one assertion (on
// PostgreSQL over several connections, as several nodes would), exactly
// one succeeds.
func testClientAssertionsConcurrent(t *testing.T, s Store) {
	ctx := context.Background()
	for round := range rounds {
		jti := hash(fmt.Sprint("raced-jti-", round))
		race(t, fmt.Sprint("round ", round, ": assertion"), 20, store.ErrAlreadySpent, func(int) error {
			return s.UseClientAssertion(ctx, "c1", jti, at(100))
		})
	}
}
