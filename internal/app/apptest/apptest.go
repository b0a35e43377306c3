// Package apptest configures a whole Gatehouse for a test: the same
// composition root serve uses (internal/app), on a fresh SQLite file in
// the test's temporary directory, with cheap password hashing.
package apptest

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/config"
	"github.com/gatehouse-auth/gatehouse/internal/limiter"
)

// Cheap argon2id parameters keep suites fast; the production floor is the
// configuration's to enforce (config.Resolve), and a test builds its
// configuration without it.
var Cheap = config.Argon2{MemoryKiB: 64, Iterations: 1, Parallelism: 1}

// Config returns the defaults resolved for a test: publicURL is the public
// URL (so the issuer, the audience and the first trusted origin), the data
// directory is new, and hashing is Cheap.
func Config(t testing.TB, publicURL string) config.Resolved {
	t.Helper()
	c := config.Default()
	c.Data = t.TempDir()
	c.Argon2 = Cheap
	c.PublicURL = publicURL
	c.Audience = publicURL
	pub, err := url.Parse(publicURL)
	if err != nil || pub.Scheme == "" || pub.Host == "" {
		t.Fatalf("apptest: public URL %q", publicURL)
	}
	return config.Resolved{Config: c, PublicURL: pub}
}

// NoLimits is a login limiter that allows every attempt: what a test that
// is not about brute-force limits wants, so that its own many logins from
// one address are not throttled.
type NoLimits struct{}

func (NoLimits) Allow(context.Context, string, string, time.Time) (bool, time.Duration, limiter.Reason, error) {
	return true, 0, "", nil
}

func (NoLimits) Failure(context.Context, string, string, time.Time) (limiter.Reason, error) {
	return "", nil
}

func (NoLimits) Success(context.Context, string, string, time.Time) error { return nil }
