package password_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/password"
)

func TestAdmissionBoundsConcurrency(t *testing.T) {
	p := password.Params{MemoryKiB: 1024, Iterations: 1, Parallelism: 1}
	a := password.NewAdmission(p, 4<<20, 100, 5*time.Second) // 4 MiB: 4 hashes at once
	if a.Capacity() != 4 {
		t.Fatalf("capacity %d, want 4", a.Capacity())
	}
	var running, peak atomic.Int64
	var wg sync.WaitGroup
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			release, err := a.Acquire(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			defer release()
			n := running.Add(1)
			for {
				old := peak.Load()
				if n <= old || peak.CompareAndSwap(old, n) {
					break
				}
			}
			time.Sleep(2 * time.Millisecond)
			running.Add(-1)
		}()
	}
	wg.Wait()
	if peak.Load() > 4 {
		t.Fatalf("peak %d concurrent hashes, budget allows 4", peak.Load())
	}
}

func TestAdmissionQueueFullIsBusy(t *testing.T) {
	a := password.NewAdmission(password.Params{MemoryKiB: 1024}, 1<<20, 1, time.Minute)
	hold, err := a.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	waiter := make(chan error, 1)
	go func() {
		r, err := a.Acquire(context.Background())
		if err == nil {
			r()
		}
		waiter <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for a.Waiting() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("waiter never queued")
		}
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	if _, err := a.Acquire(context.Background()); !errors.Is(err, password.ErrBusy) {
		t.Fatalf("full queue: err = %v, want ErrBusy", err)
	}
	if time.Since(start) > 30*time.Second {
		t.Fatal("a full queue made the caller wait")
	}
	hold()
	if err := <-waiter; err != nil {
		t.Fatalf("queued caller: %v", err)
	}
}

func TestAdmissionTimeout(t *testing.T) {
	a := password.NewAdmission(password.Params{MemoryKiB: 1024}, 1<<20, 10, 20*time.Millisecond)
	hold, _ := a.Acquire(context.Background())
	defer hold()
	if _, err := a.Acquire(context.Background()); !errors.Is(err, password.ErrBusy) {
		t.Fatalf("err = %v, want ErrBusy after the wait", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := a.Acquire(ctx); !errors.Is(err, password.ErrBusy) {
		t.Fatalf("cancelled: err = %v", err)
	}
}
