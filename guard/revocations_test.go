package guard_test

import (
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/guard"
	"github.com/gatehouse-auth/gatehouse/internal/revset"
)

// TestRevocations: Revoked and LastContact answer from the set the feed
// fills (internal/revset, where the set's own tests are).
func TestRevocations(t *testing.T) {
	rv := guard.NewRevocations()
	if rv.Revoked("a") || !rv.LastContact().IsZero() {
		t.Fatal("new set is not empty")
	}
	set := revset.Of(rv)
	set.Add("a", t0.Add(time.Minute), 1)
	set.Touch(t0)
	if !rv.Revoked("a") || rv.Revoked("b") || !rv.LastContact().Equal(t0) {
		t.Fatalf("revoked a %v, b %v, contact %v", rv.Revoked("a"), rv.Revoked("b"), rv.LastContact())
	}
	if revset.Of(rv) != set {
		t.Fatal("revset.Of returned another set")
	}
}
