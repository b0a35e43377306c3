// Package clock lets tests move time. Production code takes a Clock and
// wires clock.System; tests wire a *clock.Fake and call Advance.
package clock

import (
	"sync"
	"time"
)

// Clock tells the time.
type Clock interface{ Now() time.Time }

// System is the real clock.
type System struct{}

// Now returns time.Now in UTC.
func (System) Now() time.Time { return time.Now().UTC() }

// Fake is a clock that moves only when told. It is safe for concurrent use.
type Fake struct {
	mu    sync.Mutex
	now   time.Time
	hooks []func()
}

// NewFake returns a Fake set to t.
func NewFake(t time.Time) *Fake { return &Fake{now: t.UTC()} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Advance moves the fake time forward by d, then runs the OnAdvance
// hooks.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	hooks := f.hooks
	f.mu.Unlock()
	for _, fn := range hooks {
		fn()
	}
}

// OnAdvance registers fn to run after every Advance, outside the clock's
// lock, so that a test can bring what keeps time by this clock in step
// with a jump before it goes on (a revocation feed's liveness is its last
// contact by this clock: after a jump, until the feed is read again, it
// looks silent for the whole jump).
func (f *Fake) OnAdvance(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hooks = append(f.hooks, fn)
}
