package session_test

import (
	"context"
	"testing"

	"github.com/gatehouse-auth/gatehouse/internal/password"
	"github.com/gatehouse-auth/gatehouse/internal/session"
)

// BenchmarkRefresh measures one refresh-token rotation end to end: lookup,
// user re-check, access-token signing, sealing the grace blob, and the
// rotation transaction on SQLite with synchronous=FULL (an fsync per
// commit, so the figure depends on the disk).
func BenchmarkRefresh(b *testing.B) {
	f := newFixture(b, grace, cheap)
	withUser(b, f)
	g := f.login(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if g, err = f.Engine.Refresh(ctx, g.RefreshToken, session.Client{IP: "192.0.2.1", UserAgent: "bench"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLogin measures one login with the production argon2id
// parameters (m=19 MiB, t=2, p=1): the hash dominates.
func BenchmarkLogin(b *testing.B) {
	f := newFixture(b, grace, password.DefaultParams)
	withUser(b, f)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Engine.Login(ctx, user, pass, session.Client{IP: "192.0.2.1", UserAgent: "bench"}); err != nil {
			b.Fatal(err)
		}
	}
}
