package main

import (
	"math"
	"runtime/debug"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/memlimit"
)

// TestServeSetsAMemoryLimit: serve runs under a soft memory limit of at
// least its config's floor, and puts back the limit it found when it stops.
// Not parallel: the limit is the process's.
func TestServeSetsAMemoryLimit(t *testing.T) {
	was := debug.SetMemoryLimit(-1)
	if was != math.MaxInt64 {
		t.Skipf("this test process already runs under a memory limit (%d)", was)
	}
	o := newOrigin(t)
	_, stop := startServe(t, "-config", writeConfig(t, o.URL, ""))
	deadline := time.Now().Add(5 * time.Second)
	l := debug.SetMemoryLimit(-1)
	for l == was && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		l = debug.SetMemoryLimit(-1)
	}
	if l < memlimit.Floor(2) || l == math.MaxInt64 {
		t.Fatalf("limit %d while serving, want at least the floor %d", l, memlimit.Floor(2))
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if l := debug.SetMemoryLimit(-1); l != was {
		t.Errorf("limit %d after serve stopped, want %d", l, was)
	}
}
