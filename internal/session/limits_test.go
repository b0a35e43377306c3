package session_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/limiter"
	"github.com/gatehouse-auth/gatehouse/internal/password"
	"github.com/gatehouse-auth/gatehouse/internal/session"
	"github.com/gatehouse-auth/gatehouse/internal/session/sessiontest"
	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// brokenLimiter is a limiter whose shared store fails where told to.
type brokenLimiter struct {
	allow, failure, success error
	failures                int
}

func (b *brokenLimiter) Allow(context.Context, string, string, time.Time) (bool, time.Duration, limiter.Reason, error) {
	if b.allow != nil {
		return false, 0, "", b.allow
	}
	return true, 0, "", nil
}

func (b *brokenLimiter) Failure(context.Context, string, string, time.Time) (limiter.Reason, error) {
	b.failures++
	return limiter.ReasonBackoff, b.failure
}

func (b *brokenLimiter) Success(context.Context, string, string, time.Time) error { return b.success }

var errStoreDown = errors.New("store down")

// TestLimiterUnavailableFailsClosed: when the limiter cannot tell whether
// an attempt is allowed, the login and the password change are refused
// with that error before any password is hashed (the hashing budget is
// held, so a hash would answer ErrBusy), so the answer is no oracle and
// is not "invalid credentials"; nothing is recorded as a failure.
func TestLimiterUnavailableFailsClosed(t *testing.T) {
	ctx := context.Background()
	lim := &brokenLimiter{}
	adm := password.NewAdmission(cheap, 1, 0, time.Millisecond)
	f := &fixture{Fixture: sessiontest.New(t, sessiontest.Options{Limiter: lim, Admission: adm})}
	withUser(t, f)
	g := f.login(t)

	lim.allow = fmt.Errorf("limiter: %w", errStoreDown)
	release, err := adm.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	for _, pw := range []string{pass, "wrong password"} {
		_, err := f.Engine.Login(ctx, user, pw, session.Client{IP: "192.0.2.1"})
		if !errors.Is(err, errStoreDown) || errors.Is(err, session.ErrInvalidCredentials) ||
			errors.Is(err, session.ErrBusy) || errors.Is(err, session.ErrRateLimited) {
			t.Errorf("Login with the limiter down: %v; want the store's error, before hashing", err)
		}
	}
	_, err = f.Engine.ChangePassword(ctx, g.User.ID, "wrong password", "another long passphrase", session.Client{IP: "192.0.2.1"})
	if !errors.Is(err, errStoreDown) || errors.Is(err, session.ErrBusy) {
		t.Errorf("ChangePassword with the limiter down: %v; want the store's error, before hashing", err)
	}
	if lim.failures != 0 {
		t.Errorf("%d failures recorded for attempts never made", lim.failures)
	}
	if evs, _ := f.DB.AuditEvents(ctx, store.AuditFilter{Type: "login_failure"}); len(evs) != 0 {
		t.Errorf("login_failure audited for refused attempts: %+v", evs)
	}
}

// TestLimiterWriteErrorsKeepTheAnswer: a failure or success the limiter
// cannot record does not change the answer, which the password decided:
// a wrong password is still invalid credentials (not a 5xx the client
// would retry), the right one still logs in; and no trip is audited for a
// failure that was not recorded.
func TestLimiterWriteErrorsKeepTheAnswer(t *testing.T) {
	ctx := context.Background()
	lim := &brokenLimiter{failure: errStoreDown, success: errStoreDown}
	f := &fixture{Fixture: sessiontest.New(t, sessiontest.Options{Limiter: lim})}
	withUser(t, f)
	if _, err := f.Engine.Login(ctx, user, "wrong password", session.Client{}); !errors.Is(err, session.ErrInvalidCredentials) {
		t.Errorf("wrong password, failure not recorded: %v", err)
	}
	if lim.failures != 1 {
		t.Errorf("Failure called %d times, want 1", lim.failures)
	}
	if evs, _ := f.DB.AuditEvents(ctx, store.AuditFilter{Type: "rate_limit_tripped"}); len(evs) != 0 {
		t.Errorf("a trip audited for a failure not recorded: %+v", evs)
	}
	f.login(t)
}
