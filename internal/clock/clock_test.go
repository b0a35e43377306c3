package clock

import (
	"sync"
	"testing"
	"time"
)

func TestFake(t *testing.T) {
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.FixedZone("CET", 3600))
	f := NewFake(start)
	if got := f.Now(); !got.Equal(start) || got.Location() != time.UTC {
		t.Errorf("Now = %v, want %v in UTC", got, start)
	}
	if !f.Now().Equal(f.Now()) {
		t.Error("fake time moved by itself")
	}

	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			f.Advance(time.Second)
			_ = f.Now()
		})
	}
	wg.Wait()
	if got, want := f.Now(), start.Add(10*time.Second); !got.Equal(want) {
		t.Errorf("after 10 concurrent one-second advances Now = %v, want %v", got, want)
	}
}

func TestSystem(t *testing.T) {
	before := time.Now()
	got := System{}.Now()
	if got.Location() != time.UTC || got.Before(before.Add(-time.Second)) || got.After(time.Now().Add(time.Second)) {
		t.Errorf("System.Now = %v, want the current time in UTC", got)
	}
}
