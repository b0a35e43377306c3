package authapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/app"
	"github.com/gatehouse-auth/gatehouse/internal/config"
	"github.com/gatehouse-auth/gatehouse/internal/limiter"
	"github.com/gatehouse-auth/gatehouse/internal/password"
	"github.com/gatehouse-auth/gatehouse/internal/session/sessiontest"
)

func bearerLoginResp(t *testing.T, g *gh, user, pw string) resp {
	t.Helper()
	return doWith(t, http.DefaultClient, g.URL, "POST", "/auth/login",
		map[string]string{"username": user, "password": pw, "mode": "bearer"})
}

// retryAfter returns the Retry-After header in seconds, failing the test
// unless it is a positive integer.
func retryAfter(t *testing.T, r resp) int {
	t.Helper()
	n, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || n < 1 {
		t.Fatalf("Retry-After = %q, want a positive number of seconds", r.Header.Get("Retry-After"))
	}
	return n
}

// TestLoginRateLimitedPerIP: failed logins from one address, whatever the
// usernames, are cut off with 429, Retry-After and rate_limited; even the
// right password is refused until then (the limit is no oracle), and
// works after it.
func TestLoginRateLimitedPerIP(t *testing.T) {
	const burst = 4
	g := newGH(t, func(_ *config.Resolved, o *app.Options) {
		o.Limiter = limiter.New(limiter.Config{IPBurst: burst, IPRate: 0.1})
	})
	for i := range burst {
		r := bearerLoginResp(t, g, fmt.Sprintf("guess%d", i), "wrong password")
		wantProblem(t, "failed login", r, 401, "invalid_credentials")
	}
	r := bearerLoginResp(t, g, "guess-next", "wrong password")
	wantProblem(t, "login over the limit", r, 429, "rate_limited")
	wait := retryAfter(t, r)
	if wait > 10 {
		t.Errorf("Retry-After %d s, want about 1/IPRate = 10 s", wait)
	}
	r = bearerLoginResp(t, g, testUser, testPassword)
	wantProblem(t, "right password over the limit", r, 429, "rate_limited")

	g.Clock.Advance(time.Duration(wait) * time.Second)
	wantStatus(t, "login after Retry-After", bearerLoginResp(t, g, testUser, testPassword), 200)
}

// TestLoginBackoffPerAccount: repeated wrong passwords for one account
// from one address trip the back-off, reported the same way.
func TestLoginBackoffPerAccount(t *testing.T) {
	g := newGH(t, func(_ *config.Resolved, o *app.Options) {
		o.Limiter = limiter.New(limiter.Config{FreeFailures: 3, BaseDelay: 30 * time.Second})
	})
	for range 3 {
		wantProblem(t, "wrong password", bearerLoginResp(t, g, testUser, "wrong password"), 401, "invalid_credentials")
	}
	r := bearerLoginResp(t, g, testUser, testPassword)
	wantProblem(t, "after 3 failures", r, 429, "rate_limited")
	if n := retryAfter(t, r); n != 30 {
		t.Errorf("Retry-After %d, want 30", n)
	}
}

// TestLoginBusyWhenHashingExhausted: with the hashing budget taken and no
// queue, a login is refused at once with 503 and Retry-After instead of
// piling up; it works again once the budget frees.
func TestLoginBusyWhenHashingExhausted(t *testing.T) {
	adm := password.NewAdmission(sessiontest.Cheap, 1, 0, 10*time.Millisecond)
	g := newGH(t, func(_ *config.Resolved, o *app.Options) { o.Admission = adm })

	release, err := adm.Acquire(context.Background()) // the only slot
	if err != nil {
		t.Fatal(err)
	}
	r := bearerLoginResp(t, g, testUser, testPassword)
	wantProblem(t, "login with the budget exhausted", r, 503, "unavailable")
	retryAfter(t, r)
	release()
	wantStatus(t, "login once the budget is free", bearerLoginResp(t, g, testUser, testPassword), 200)
}
