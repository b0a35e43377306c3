package password

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// ErrBusy is returned when a hash could not be admitted: the memory budget
// is in use and the waiting queue is full, or the wait timed out.
var ErrBusy = errors.New("password: too many concurrent password checks")

// Admission bounds the memory argon2id uses at once. Each hash takes
// MemoryKiB of memory for its whole duration, so without a bound a burst of
// logins (or an attacker's flood of them) grows the heap without limit; with
// one, hashes beyond the budget wait in a short queue and the rest are
// turned away at once with ErrBusy, which the HTTP layer answers with 503
// and Retry-After.
type Admission struct {
	slots   chan struct{}
	queue   int64
	waiting atomic.Int64
	maxWait time.Duration
}

// NewAdmission admits as many concurrent hashes with p as fit in
// budgetBytes (at least one), lets up to queue more wait, each for at most
// maxWait.
func NewAdmission(p Params, budgetBytes int64, queue int, maxWait time.Duration) *Admission {
	per := int64(p.MemoryKiB) * 1024
	n := max(1, budgetBytes/max(per, 1))
	return &Admission{slots: make(chan struct{}, n), queue: int64(queue), maxWait: maxWait}
}

// Capacity is how many hashes run at once.
func (a *Admission) Capacity() int { return cap(a.slots) }

// Waiting is how many callers are queued now.
func (a *Admission) Waiting() int { return int(a.waiting.Load()) }

// Acquire waits for a slot and returns the function that gives it back.
func (a *Admission) Acquire(ctx context.Context) (release func(), err error) {
	release = func() { <-a.slots }
	select {
	case a.slots <- struct{}{}:
		return release, nil
	default:
	}
	if a.waiting.Add(1) > a.queue {
		a.waiting.Add(-1)
		return nil, ErrBusy
	}
	defer a.waiting.Add(-1)
	t := time.NewTimer(a.maxWait)
	defer t.Stop()
	select {
	case a.slots <- struct{}{}:
		return release, nil
	case <-t.C:
		return nil, ErrBusy
	case <-ctx.Done():
		return nil, ErrBusy
	}
}
