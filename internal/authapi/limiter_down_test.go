package authapi_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/app"
	"github.com/gatehouse-auth/gatehouse/internal/config"
	"github.com/gatehouse-auth/gatehouse/internal/limiter"
	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// downLimiter is a shared limiter whose database cannot be reached.
type downLimiter struct{}

var errLimitsDown = fmt.Errorf("limiter: postgres: %w: connection refused", store.ErrUnavailable)

func (downLimiter) Allow(context.Context, string, string, time.Time) (bool, time.Duration, limiter.Reason, error) {
	return false, 0, "", errLimitsDown
}

func (downLimiter) Failure(context.Context, string, string, time.Time) (limiter.Reason, error) {
	return "", errLimitsDown
}

func (downLimiter) Success(context.Context, string, string, time.Time) error { return errLimitsDown }

// TestLoginLimitsUnavailable: when the login limits cannot be read, a
// login is answered 503 unavailable with Retry-After, the right password
// and a wrong one alike (the password is never checked, so the answer is
// no oracle), and never 401 or 200.
func TestLoginLimitsUnavailable(t *testing.T) {
	g := newGH(t, func(_ *config.Resolved, o *app.Options) { o.Limiter = downLimiter{} })
	for _, pw := range []string{testPassword, "wrong password"} {
		r := bearerLoginResp(t, g, testUser, pw)
		wantProblem(t, "login with the limits unavailable", r, 503, "unavailable")
		retryAfter(t, r)
	}
}
