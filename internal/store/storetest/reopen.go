package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// Closer is a Store that can be closed, as every backend's DB can.
type Closer interface {
	Store
	Close() error
}

// Reopen checks that what one open store wrote is there after Close and a
// second open of the same database: opening does not re-apply migrations
// destructively. open must open the same database on every call and
// arrange (with t.Cleanup) for it to be closed; closing twice must be
// harmless.
func Reopen(t *testing.T, open func(t *testing.T) Closer) {
	ctx := context.Background()
	now := time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC)

	db := open(t)
	u := store.User{ID: "u1", Username: "alice", PasswordHash: "h", CreatedAt: now, UpdatedAt: now}
	s := store.Session{ID: "s1", UserID: "u1", ClientID: "gatehouse", AuthTime: now, CreatedAt: now,
		LastUsedAt: now, ExpiresAt: now.Add(time.Hour), CredentialVersion: 1}
	rt := store.RefreshToken{Hash: []byte("0123456789abcdef0123456789abcdef"), SessionID: "s1", CreatedAt: now}
	key := store.SigningKey{KID: "k1", Alg: "ES256", Private: []byte("der"), CreatedAt: now, ActivatesAt: now}
	for _, step := range []func() error{
		func() error { return db.CreateUser(ctx, u) },
		func() error { return db.CreateSession(ctx, s, rt) },
		func() error { return db.AddSigningKey(ctx, key, time.Hour, "") },
		func() error {
			return db.AppendAudit(ctx, store.AuditEvent{Time: now, Type: "login_success", UserID: "u1", Outcome: "success"})
		},
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	secret, err := db.Secret(ctx, "csrf", 32)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	db = open(t)
	if got, err := db.UserByUsername(ctx, "alice"); err != nil || got.ID != "u1" {
		t.Errorf("user after reopen: %+v, %v", got, err)
	}
	if got, err := db.SessionByID(ctx, "s1"); err != nil || !got.ExpiresAt.Equal(s.ExpiresAt) {
		t.Errorf("session after reopen: %+v, %v", got, err)
	}
	if _, err := db.RefreshToken(ctx, rt.Hash); err != nil {
		t.Errorf("refresh token after reopen: %v", err)
	}
	if keys, err := db.SigningKeys(ctx); err != nil || len(keys) != 1 || keys[0].KID != "k1" {
		t.Errorf("keys after reopen: %+v, %v", keys, err)
	}
	if evs, err := db.AuditEvents(ctx, store.AuditFilter{}); err != nil || len(evs) != 1 {
		t.Errorf("audit after reopen: %+v, %v", evs, err)
	}
	if again, err := db.Secret(ctx, "csrf", 32); err != nil || !bytes.Equal(again, secret) {
		t.Errorf("secret changed across reopen: %v", err)
	}
	if err := db.CreateUser(ctx, u); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreateUser after reopen: err = %v, want ErrConflict", err)
	}
}
