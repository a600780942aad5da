package memlimit

import (
	"context"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func noenv(string) string { return "" }

// limitBecomes waits (at most 5 s) until the limit is no longer old and
// returns it.
func limitBecomes(t *testing.T, old int64) int64 {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if l := debug.SetMemoryLimit(-1); l != old {
			return l
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("the limit stayed %d", old)
	return 0
}

func TestFloorGrowsWithSources(t *testing.T) {
	if Floor(-5) != Floor(0) || Floor(0) <= 0 {
		t.Errorf("Floor(-5) = %d, Floor(0) = %d: want the same positive floor", Floor(-5), Floor(0))
	}
	if Floor(1000) <= Floor(10) {
		t.Errorf("Floor(1000) = %d is not above Floor(10) = %d", Floor(1000), Floor(10))
	}
}

func TestNextNeverBelowHalfAgainTheLiveHeap(t *testing.T) {
	floor := Floor(1000)
	for _, live := range []int64{0, 1 << 20, floor / 2, floor, 4 * floor, 1 << 40} {
		n := Next(floor, live)
		if n < floor || n < live+live/2 {
			t.Errorf("Next(%d, live %d) = %d: below the floor or 1.5× the live heap", floor, live, n)
		}
	}
	if Next(floor, 0) != floor {
		t.Errorf("Next with no live heap = %d, want the floor %d", Next(floor, 0), floor)
	}
}

// TestRunSetsSharesAndRestores: a Run sets its floor; a second Run with a
// higher floor raises it; once both end the limit is what it was.
func TestRunSetsSharesAndRestores(t *testing.T) {
	was := debug.SetMemoryLimit(-1)
	ctx1, stop1 := context.WithCancel(context.Background())
	done1 := make(chan struct{})
	go func() { Run(ctx1, 1<<40, noenv); close(done1) }()
	l1 := limitBecomes(t, was)
	if l1 < 1<<40 {
		t.Fatalf("limit %d with a floor of %d", l1, int64(1<<40))
	}
	ctx2, stop2 := context.WithCancel(context.Background())
	done2 := make(chan struct{})
	go func() { Run(ctx2, 2<<40, noenv); close(done2) }()
	if l2 := limitBecomes(t, l1); l2 < 2<<40 {
		t.Fatalf("limit %d with a second run's floor of %d", l2, int64(2<<40))
	}
	stop2()
	<-done2
	if l := debug.SetMemoryLimit(-1); l == was {
		t.Fatalf("the limit went back to %d with a run still going", was)
	}
	stop1()
	<-done1
	if l := debug.SetMemoryLimit(-1); l != was {
		t.Errorf("limit %d after both runs ended, want %d as before", l, was)
	}
}

// TestRunFollowsTheLiveHeap: with 64 MiB held and a floor far below it, the
// limit leaves the heap half again as much room.
func TestRunFollowsTheLiveHeap(t *testing.T) {
	was := debug.SetMemoryLimit(-1)
	held := make([]byte, 64<<20)
	for i := range held {
		held[i] = byte(i)
	}
	runtime.GC()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { Run(ctx, 1<<20, noenv); close(done) }()
	l := limitBecomes(t, was)
	stop()
	<-done
	if l < 96<<20 {
		t.Errorf("limit %d MiB with 64 MiB live: less than half again", l>>20)
	}
	runtime.KeepAlive(held)
}

// TestGOMEMLIMITWins: with GOMEMLIMIT in the environment Run leaves the
// limit alone while it runs (it only gives code back) and returns when ctx
// ends.
func TestGOMEMLIMITWins(t *testing.T) {
	was := debug.SetMemoryLimit(-1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		Run(ctx, 1<<40, func(k string) string {
			if k == "GOMEMLIMIT" {
				return "100MiB"
			}
			return ""
		})
		close(done)
	}()
	time.Sleep(100 * time.Millisecond) // a Run that set its floor would have by now (limitBecomes: within ms)
	if l := debug.SetMemoryLimit(-1); l != was {
		t.Errorf("limit %d while running, want %d untouched", l, was)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return once its context ended")
	}
	if l := debug.SetMemoryLimit(-1); l != was {
		t.Errorf("limit %d, want %d untouched", l, was)
	}
}
