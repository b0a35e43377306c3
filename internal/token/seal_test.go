package token

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/clock"
	"github.com/gatehouse-auth/gatehouse/internal/store"
	"github.com/gatehouse-auth/gatehouse/internal/store/sqlite"
)

var (
	kek1 = bytes.Repeat([]byte{0x11}, KEKSize)
	kek2 = bytes.Repeat([]byte{0x22}, KEKSize)
)

const keep = 6 * time.Minute

// openDB opens the SQLite file at path: each call is one node's
// connection to the shared database.
func openDB(t *testing.T, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newDB(t *testing.T) (*sqlite.DB, string) {
	path := filepath.Join(t.TempDir(), sqlite.FileName)
	return openDB(t, path), path
}

func newClock() *clock.Fake { return clock.NewFake(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)) }

func keyring(t *testing.T, ks KeyStore, c clock.Clock, enc Encryption) *Keyring {
	t.Helper()
	r, err := NewEncryptedKeyring(ks, c, keep, DefaultReload, enc)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// prepared is keyring followed by a successful Prepare.
func prepared(t *testing.T, ks KeyStore, c clock.Clock, enc Encryption) *Keyring {
	t.Helper()
	r := keyring(t, ks, c, enc)
	if _, err := r.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r
}

func rows(t *testing.T, db *sqlite.DB) map[string]store.SigningKey {
	t.Helper()
	ks, err := db.SigningKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]store.SigningKey{}
	for _, k := range ks {
		m[k.KID] = k
	}
	return m
}

// overwrite replaces a row's stored private bytes, as someone with write
// access to the database could.
func overwrite(t *testing.T, db *sqlite.DB, kid string, b []byte) {
	t.Helper()
	old := rows(t, db)[kid].Private
	if n, err := db.ResealSigningKeys(context.Background(), []store.KeyReseal{{KID: kid, Old: old, New: b}}); err != nil || n != 1 {
		t.Fatalf("overwrite %s: %d, %v", kid, n, err)
	}
}

func signingKID(t *testing.T, r *Keyring) string {
	t.Helper()
	k, err := r.Signing(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return k.KID
}

// TestEncryptedRoundTrip: with a KEK the stored row is the envelope
// ("ghk1", nonce, ciphertext and tag), holds neither the DER nor the
// private scalar in the clear, and another keyring with the same KEK opens
// it to the same key.
func TestEncryptedRoundTrip(t *testing.T) {
	ctx := context.Background()
	db, _ := newDB(t)
	clk := newClock()
	a := prepared(t, db, clk, Encryption{Key: kek1})
	if !a.Encrypted() {
		t.Fatal("Encrypted() = false with a key")
	}
	if err := a.Ensure(ctx, ES256); err != nil {
		t.Fatal(err)
	}
	k, err := a.Signing(ctx)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.private)
	if err != nil {
		t.Fatal(err)
	}
	row := rows(t, db)[k.KID]
	if !bytes.HasPrefix(row.Private, []byte("ghk1")) || len(row.Private) != 4+12+len(der)+16 {
		t.Fatalf("stored %d bytes starting %q, want ghk1 + 12-byte nonce + %d-byte ciphertext + 16-byte tag",
			len(row.Private), row.Private[:min(4, len(row.Private))], len(der))
	}
	d, err := k.private.(*ecdsa.PrivateKey).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(row.Private, der) || bytes.Contains(row.Private, d) {
		t.Fatal("the private key is in the store in the clear")
	}

	b := prepared(t, db, clk, Encryption{Key: kek1})
	kb, err := b.Signing(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if kb.KID != k.KID || !k.private.(*ecdsa.PrivateKey).Equal(kb.private) {
		t.Fatal("a second keyring with the same KEK opened a different key")
	}

	// Every algorithm's DER survives the trip.
	for _, alg := range []string{EdDSA, RS256} {
		added, err := a.Rotate(ctx, alg, 0)
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second) // past b's bound on unknown-kid reloads
		if k, err := b.Lookup(ctx, added.KID); err != nil || k.Alg != alg {
			t.Fatalf("%s key through the store: %v, %v", alg, k, err)
		}
	}
}

// TestUndecryptableStopsStartup: a tampered row, a wrong KEK and a row
// copied onto another kid all fail Prepare with one line naming the kid,
// and Ensure then creates no key in their place.
func TestUndecryptableStopsStartup(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T) (*sqlite.DB, *clock.Fake, string, string) {
		db, _ := newDB(t)
		clk := newClock()
		r := prepared(t, db, clk, Encryption{Key: kek1})
		if err := r.Ensure(ctx, ES256); err != nil {
			t.Fatal(err)
		}
		first := signingKID(t, r)
		second, err := r.Rotate(ctx, ES256, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return db, clk, first, second.KID
	}
	wantUndecryptable := func(t *testing.T, db *sqlite.DB, clk clock.Clock, enc Encryption, kid string) {
		t.Helper()
		before := rows(t, db)
		r := keyring(t, db, clk, enc)
		_, err := r.Prepare(ctx)
		if !errors.Is(err, ErrUndecryptable) || err.Error() != "key_encryption_key does not decrypt signing key "+kid {
			t.Fatalf("Prepare: %v, want %q", err, "key_encryption_key does not decrypt signing key "+kid)
		}
		if err := r.Ensure(ctx, ES256); !errors.Is(err, ErrUndecryptable) {
			t.Fatalf("Ensure: %v, want ErrUndecryptable", err)
		}
		if after := rows(t, db); !reflect.DeepEqual(before, after) {
			t.Fatal("the store changed")
		}
	}

	t.Run("tampered", func(t *testing.T) {
		db, clk, kid, _ := setup(t)
		orig := rows(t, db)[kid].Private
		// A byte of the nonce, of the ciphertext, of the tag.
		for _, i := range []int{4, 4 + 12 + 3, len(orig) - 1} {
			bad := bytes.Clone(orig)
			bad[i] ^= 0x01
			overwrite(t, db, kid, bad)
			wantUndecryptable(t, db, clk, Encryption{Key: kek1}, kid)
			overwrite(t, db, kid, orig)
		}
		// Cut short.
		overwrite(t, db, kid, orig[:10])
		wantUndecryptable(t, db, clk, Encryption{Key: kek1}, kid)
	})
	t.Run("wrong key", func(t *testing.T) {
		db, clk, kid, _ := setup(t)
		wantUndecryptable(t, db, clk, Encryption{Key: kek2}, kid)
		// A wrong previous key does not help either.
		wantUndecryptable(t, db, clk, Encryption{Key: kek2, Previous: bytes.Repeat([]byte{3}, KEKSize)}, kid)
	})
	t.Run("kid swap", func(t *testing.T) {
		db, clk, first, second := setup(t)
		overwrite(t, db, second, rows(t, db)[first].Private)
		wantUndecryptable(t, db, clk, Encryption{Key: kek1}, second)
	})
	t.Run("encrypted without a key", func(t *testing.T) {
		db, clk, kid, _ := setup(t)
		_, err := keyring(t, db, clk, Encryption{}).Prepare(ctx)
		if err == nil || err.Error() != "signing key "+kid+" is encrypted but key_encryption_key is not set" {
			t.Fatalf("Prepare without a key: %v", err)
		}
	})
	t.Run("unknown envelope version", func(t *testing.T) {
		db, clk, kid, _ := setup(t)
		overwrite(t, db, kid, append([]byte("ghk9"), rows(t, db)[kid].Private[4:]...))
		if _, err := keyring(t, db, clk, Encryption{Key: kek1}).Prepare(ctx); err == nil || !strings.Contains(err.Error(), "format") {
			t.Fatalf("Prepare: %v", err)
		}
	})
}

// TestLegacyRowsEncryptedAtStartup: keys stored in the clear before a KEK
// was configured are sealed in place by Prepare, the keys themselves
// unchanged; a second Prepare changes nothing.
func TestLegacyRowsEncryptedAtStartup(t *testing.T) {
	ctx := context.Background()
	db, _ := newDB(t)
	clk := newClock()
	plain := prepared(t, db, clk, Encryption{})
	if plain.Encrypted() {
		t.Fatal("Encrypted() = true without a key")
	}
	if err := plain.Ensure(ctx, ES256); err != nil {
		t.Fatal(err)
	}
	if _, err := plain.Rotate(ctx, EdDSA, time.Hour); err != nil {
		t.Fatal(err)
	}
	before := rows(t, db)
	for kid, row := range before {
		if _, err := x509.ParsePKCS8PrivateKey(row.Private); err != nil {
			t.Fatalf("%s not stored as plain DER without a key: %v", kid, err)
		}
	}

	r := keyring(t, db, clk, Encryption{Key: kek1})
	n, err := r.Prepare(ctx)
	if err != nil || n != 2 {
		t.Fatalf("Prepare = %d, %v; want 2 keys sealed", n, err)
	}
	for kid, row := range rows(t, db) {
		if !bytes.HasPrefix(row.Private, []byte("ghk1")) || bytes.Contains(row.Private, before[kid].Private) {
			t.Errorf("%s not sealed", kid)
		}
	}
	if got, want := signingKID(t, r), signingKID(t, plain); got != want {
		t.Errorf("signing key %s after sealing, want %s", got, want)
	}
	if n, err := keyring(t, db, clk, Encryption{Key: kek1}).Prepare(ctx); err != nil || n != 0 {
		t.Errorf("second Prepare = %d, %v; want 0, nil", n, err)
	}
}

// TestConcurrentPrepare: nodes starting at once with a new KEK over plain
// rows each seal them; every row ends sealed once and every node opens it.
func TestConcurrentPrepare(t *testing.T) {
	ctx := context.Background()
	db, path := newDB(t)
	clk := newClock()
	if err := prepared(t, db, clk, Encryption{}).Ensure(ctx, ES256); err != nil {
		t.Fatal(err)
	}
	const nodes = 4
	rings := make([]*Keyring, nodes)
	for i := range rings {
		rings[i] = keyring(t, openDB(t, path), clk, Encryption{Key: kek1})
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int
	)
	for _, r := range rings {
		wg.Go(func() {
			n, err := r.Prepare(ctx)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			total += n
			mu.Unlock()
		})
	}
	wg.Wait()
	if total != 1 {
		t.Errorf("%d reseals in all, want 1", total)
	}
	if _, err := prepared(t, db, clk, Encryption{Key: kek1}).Signing(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestPreviousKEKReencrypted: keys sealed under the previous KEK open with
// it, Prepare reseals them under the current one, and after that the old
// KEK alone no longer opens them.
func TestPreviousKEKReencrypted(t *testing.T) {
	ctx := context.Background()
	db, _ := newDB(t)
	clk := newClock()
	old := prepared(t, db, clk, Encryption{Key: kek1})
	if err := old.Ensure(ctx, ES256); err != nil {
		t.Fatal(err)
	}
	kid := signingKID(t, old)
	sealedUnderOld := rows(t, db)[kid].Private

	r := keyring(t, db, clk, Encryption{Key: kek2, Previous: kek1})
	if n, err := r.Prepare(ctx); err != nil || n != 1 {
		t.Fatalf("Prepare = %d, %v; want 1 key resealed", n, err)
	}
	if got := signingKID(t, r); got != kid {
		t.Fatalf("signing key %s after resealing, want %s", got, kid)
	}
	if bytes.Equal(rows(t, db)[kid].Private, sealedUnderOld) {
		t.Fatal("row unchanged")
	}
	if _, err := keyring(t, db, clk, Encryption{Key: kek1}).Prepare(ctx); !errors.Is(err, ErrUndecryptable) {
		t.Fatalf("old KEK after resealing: %v, want ErrUndecryptable", err)
	}
	if n, err := keyring(t, db, clk, Encryption{Key: kek2}).Prepare(ctx); err != nil || n != 0 {
		t.Fatalf("new KEK alone: %d, %v", n, err)
	}
	// The rollout order docs/operations.md gives: nodes still on the old
	// KEK with the new one as "previous" open what the first resealed.
	if _, err := keyring(t, db, clk, Encryption{Key: kek1, Previous: kek2}).Prepare(ctx); err != nil {
		t.Fatalf("old KEK with the new one as previous: %v", err)
	}
}

func TestEncryptionConfig(t *testing.T) {
	db, _ := newDB(t)
	for _, tt := range []struct {
		name string
		enc  Encryption
		want string
	}{
		{"required without key", Encryption{Required: true}, "key_encryption_key is required"},
		{"previous without key", Encryption{Previous: kek1}, "needs a current one"},
		{"short key", Encryption{Key: kek1[:16]}, "must be 32 bytes"},
		{"same key twice", Encryption{Key: kek1, Previous: bytes.Clone(kek1)}, "same"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewEncryptedKeyring(db, newClock(), keep, DefaultReload, tt.enc)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
	if _, err := NewEncryptedKeyring(db, newClock(), keep, DefaultReload, Encryption{Key: kek1, Required: true}); err != nil {
		t.Fatal(err)
	}
	for in, want := range map[time.Duration]time.Duration{0: DefaultReload, time.Millisecond: MinReload, time.Hour: MaxReload, 5 * time.Second: 5 * time.Second} {
		if got := NewKeyring(db, newClock(), keep, in).reload; got != want {
			t.Errorf("reload %v became %v, want %v", in, got, want)
		}
	}
}

// barrier holds each keyring's first AddSigningKey until every keyring
// has reached it: all have read the keys and decided before any writes,
// the worst case for coordination.
type barrier struct {
	KeyStore
	once    sync.Once
	arrived *sync.WaitGroup
}

func (b *barrier) AddSigningKey(ctx context.Context, k store.SigningKey, keep time.Duration, after string) error {
	b.once.Do(func() {
		b.arrived.Done()
		b.arrived.Wait()
	})
	return b.KeyStore.AddSigningKey(ctx, k, keep, after)
}

// nodes returns n keyrings, each over its own connection to one SQLite
// file, whose first adds wait for one another.
func nodes(t *testing.T, path string, clk clock.Clock, n int) []*Keyring {
	var arrived sync.WaitGroup
	arrived.Add(n)
	rings := make([]*Keyring, n)
	for i := range rings {
		rings[i] = prepared(t, &barrier{KeyStore: openDB(t, path), arrived: &arrived}, clk, Encryption{Key: kek1})
	}
	return rings
}

// TestConcurrentEnsure: nodes starting at once on an empty database
// create one key between them, and all sign with it.
func TestConcurrentEnsure(t *testing.T) {
	ctx := context.Background()
	db, path := newDB(t)
	clk := newClock()
	rings := nodes(t, path, clk, 5)
	var wg sync.WaitGroup
	for _, r := range rings {
		wg.Go(func() {
			if err := r.Ensure(ctx, ES256); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := len(rows(t, db)); n != 1 {
		t.Fatalf("%d keys created, want 1", n)
	}
	want := signingKID(t, rings[0])
	for i, r := range rings {
		if got := signingKID(t, r); got != want {
			t.Errorf("node %d signs with %s, want %s", i, got, want)
		}
	}
}

// TestConcurrentRotate: operators rotating at once from the same state
// add one key; the others are told another rotation happened first.
func TestConcurrentRotate(t *testing.T) {
	ctx := context.Background()
	db, path := newDB(t)
	clk := newClock()
	if err := prepared(t, db, clk, Encryption{Key: kek1}).Ensure(ctx, ES256); err != nil {
		t.Fatal(err)
	}
	rings := nodes(t, path, clk, 4)
	var (
		wg               sync.WaitGroup
		mu               sync.Mutex
		added, conflicts int
	)
	for _, r := range rings {
		wg.Go(func() {
			_, err := r.Rotate(ctx, ES256, 10*time.Minute)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				added++
			case errors.Is(err, ErrRotationConflict) && errors.Is(err, store.ErrConflict):
				conflicts++
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if added != 1 || conflicts != len(rings)-1 {
		t.Fatalf("%d rotations succeeded and %d conflicted, want 1 and %d", added, conflicts, len(rings)-1)
	}
	if n := len(rows(t, db)); n != 2 {
		t.Fatalf("%d keys stored, want 2", n)
	}
	// A loser has reloaded: it publishes the winner's key.
	for i, r := range rings {
		if pub, err := r.Published(ctx); err != nil || len(pub) != 2 {
			t.Errorf("node %d publishes %d keys (%v), want 2", i, len(pub), err)
		}
	}
}

// TestNodesAgreeOnJWKS: two keyrings over one SQLite file. A key the
// first adds is found by the second at once when a token names it (after
// the one-second bound on unknown-kid reloads), and both publish the same
// JWKS within the reload interval.
func TestNodesAgreeOnJWKS(t *testing.T) {
	ctx := context.Background()
	_, path := newDB(t)
	clk := newClock()
	a := prepared(t, openDB(t, path), clk, Encryption{Key: kek1})
	b := prepared(t, openDB(t, path), clk, Encryption{Key: kek1})
	if err := a.Ensure(ctx, ES256); err != nil {
		t.Fatal(err)
	}
	if err := b.Load(ctx); err != nil {
		t.Fatal(err)
	}
	jwksEqual := func() bool {
		ja, err := a.JWKS(ctx)
		if err != nil {
			t.Fatal(err)
		}
		jb, err := b.JWKS(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sa, err := json.Marshal(ja)
		if err != nil {
			t.Fatal(err)
		}
		sb, err := json.Marshal(jb)
		if err != nil {
			t.Fatal(err)
		}
		return bytes.Equal(sa, sb)
	}
	if !jwksEqual() {
		t.Fatal("JWKS differ after both loaded")
	}

	added, err := a.Rotate(ctx, EdDSA, 0)
	if err != nil {
		t.Fatal(err)
	}
	// b loaded less than a second ago: an unknown kid does not reload.
	if _, err := b.Lookup(ctx, added.KID); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Lookup within a second of b's load: %v, want ErrUnknownKey", err)
	}
	clk.Advance(time.Second)
	if k, err := b.Lookup(ctx, added.KID); err != nil || k.Alg != EdDSA {
		t.Fatalf("Lookup of the key a added: %v, %v", k, err)
	}

	// Another rotation; b learns of it without a token naming it once the
	// reload interval has passed.
	if _, err := a.Rotate(ctx, RS256, time.Minute); err != nil {
		t.Fatal(err)
	}
	clk.Advance(DefaultReload)
	if !jwksEqual() {
		t.Fatal("JWKS differ after the reload interval")
	}
	if ja, _ := a.JWKS(ctx); len(ja.Keys) != 3 {
		t.Fatalf("%d keys published, want 3", len(ja.Keys))
	}
}
