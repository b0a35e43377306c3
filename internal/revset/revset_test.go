package revset

import (
	"sync"
	"testing"
	"time"
)

func TestSet(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := New()
	if r.Revoked("a") || r.Len() != 0 || !r.LastContact().IsZero() {
		t.Fatal("new set is not empty")
	}
	r.Add("a", t0.Add(time.Minute), 3)
	r.Add("b", t0.Add(10*time.Minute), 5)
	r.Add("a", t0.Add(30*time.Second), 4) // an earlier until never shortens an entry
	if !r.Revoked("a") || !r.Revoked("b") || r.Revoked("c") {
		t.Fatal("membership wrong")
	}
	if r.Cursor() != 5 {
		t.Fatalf("cursor %d, want the highest seq 5", r.Cursor())
	}
	r.Add("c", t0.Add(time.Minute), 0) // direct feed: no seq, cursor unchanged
	if r.Cursor() != 5 {
		t.Fatalf("cursor moved to %d on an entry without seq", r.Cursor())
	}

	r.Sweep(t0.Add(2 * time.Minute))
	if r.Revoked("a") || r.Revoked("c") || !r.Revoked("b") {
		t.Fatal("sweep dropped the wrong entries")
	}
	r.Add("d", t0, 6)
	r.Sweep(t0.Add(2*time.Minute + time.Second)) // within the minute: no work
	if !r.Revoked("d") {
		t.Fatal("sweep ran again within a minute")
	}
	r.Sweep(t0.Add(3*time.Minute + time.Second))
	if r.Revoked("d") || r.Len() != 1 {
		t.Fatalf("second sweep: len %d", r.Len())
	}

	r.Touch(t0)
	if !r.LastContact().Equal(t0) {
		t.Fatalf("last contact %v", r.LastContact())
	}
	r.ResetCursor(0)
	if r.Cursor() != 0 {
		t.Fatal("reset cursor")
	}
}

func TestSetConcurrent(t *testing.T) {
	r := New()
	until := time.Now().Add(time.Hour)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 1000 {
				seq := int64(i*1000 + j + 1)
				r.Add(string(rune('a'+i))+string(rune(j)), until, seq)
				r.Revoked("x")
			}
		}()
	}
	wg.Wait()
	if r.Cursor() != 8000 || r.Len() != 8000 {
		t.Fatalf("cursor %d len %d", r.Cursor(), r.Len())
	}
}

func BenchmarkRevoked(b *testing.B) {
	r := New()
	until := time.Now().Add(time.Hour)
	for i := range 10000 {
		r.Add(string(rune(i)), until, int64(i+1))
	}
	sid := "QKOKB77WU4FR3L5UXLCWP4H3RF"
	b.ReportAllocs()
	for b.Loop() {
		r.Revoked(sid)
	}
}

// TestHandle: Of finds the one Set a Handle holds, whoever embeds it.
func TestHandle(t *testing.T) {
	type wrapper struct{ Handle }
	w := &wrapper{NewHandle()}
	s := Of(w)
	if s == nil || Of(w) != s || Of(w.Handle) != s {
		t.Fatal("Of does not return the Handle's one Set")
	}
	s.Add("a", time.Now().Add(time.Minute), 1)
	if !Of(*w).Revoked("a") {
		t.Fatal("a copy of the Handle holds another set")
	}
}
