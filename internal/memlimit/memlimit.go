// Package memlimit keeps the Go runtime's soft memory limit of a serve:
// low enough that the heap does not grow to twice what the program holds
// (the collector's default, GOGC=100), never so low that the collector runs
// without end, and the RSS of the program's own code (below). It owns
// those process-wide concerns and nothing else.
//
// The limit is the larger of a floor derived from the config (Floor) and
// half again the live heap plus the runtime's own (Next), read again every
// few seconds: a config that needs more than its floor gets it, at worst
// with the collector running as often as at GOGC=50. A GOMEMLIMIT in the
// environment is the operator's and wins: Run then does nothing.
//
// Measured on the bench's 1,000-source memory row (bench/RESULTS.md, issue
// 17, round 8): anonymous peak 115-120 MiB without a limit, 79 MiB at
// 80 MiB with the poll as quick (81.7 s against 78-81 s), 77 MiB at 64 MiB
// but the poll 27% slower (102.8 s): below the live heap's peaks the
// collector takes the cores.
//
// It also gives back, at the same pace, the pages of the program's own
// code and constant data that the kernel mapped (Linux only). The kernel
// maps a file's cached pages 64 KB at a time around each one read
// (fault-around) and leaves them mapped: the start-up's code, once run,
// stays in the RSS. Unmapped every few seconds, only what runs again is
// mapped again, from the page cache (bench/RESULTS.md, issue 17, round
// 11: the binary's share of the peak 25 -> 19 MiB). This part runs also
// with GOMEMLIMIT set.
package memlimit

import (
	"context"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

const (
	base      = 48 << 20 // a serve of a few sources: HTTP, templates, indexes, a poll's bodies
	perSource = 32 << 10 // a source's state, its share of the rendered channels and the indexes
	overhead  = 8 << 20  // stacks and the runtime's own, besides the heap
	every     = 5 * time.Second
)

// Floor is the limit for a config of the given number of sources.
func Floor(sources int) int64 {
	return base + perSource*int64(max(sources, 0))
}

// Next is the limit for a live heap of live bytes: the floor, or half
// again the live heap and the runtime's own when that is more.
func Next(floor, live int64) int64 {
	return max(floor, live+live/2+overhead)
}

// The runs in progress, by their floor: the limit serves the largest. The
// limit found before the first is put back after the last.
var (
	mu     sync.Mutex
	runs   = map[*int64]struct{}{}
	before int64
)

// Run sets the limit for floor now and every few seconds until ctx ends,
// then puts back what it was, and returns; each time it also gives back
// the program's code pages (ownCode). With GOMEMLIMIT set (getenv) it
// leaves the limit alone. Several Runs at once (tests that start several
// servers) share the setting: the largest floor stands.
func Run(ctx context.Context, floor int64, getenv func(string) string) {
	code, err := ownCode()
	if err != nil {
		code = nil // not Linux, or a build whose read-only pages may be its own: left mapped
	}
	if getenv("GOMEMLIMIT") != "" {
		tick(ctx, func() { _ = drop(code) })
		return
	}
	f := floor
	mu.Lock()
	if len(runs) == 0 {
		before = debug.SetMemoryLimit(-1)
	}
	runs[&f] = struct{}{}
	mu.Unlock()
	defer func() {
		mu.Lock()
		delete(runs, &f)
		if len(runs) == 0 {
			debug.SetMemoryLimit(before)
		}
		mu.Unlock()
	}()
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	tick(ctx, func() {
		metrics.Read(sample)
		var live int64
		if sample[0].Value.Kind() == metrics.KindUint64 {
			live = int64(min(sample[0].Value.Uint64(), math.MaxInt64/2))
		}
		apply(live)
		_ = drop(code)
	})
}

// tick calls f now and every few seconds until ctx ends.
func tick(ctx context.Context, f func()) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		f()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// span is a range of the process's address space.
type span struct {
	addr, len uintptr
}

// apply sets the limit for the largest floor of the runs in progress.
func apply(live int64) {
	mu.Lock()
	defer mu.Unlock()
	var floor int64
	for f := range runs {
		floor = max(floor, *f)
	}
	if len(runs) > 0 {
		debug.SetMemoryLimit(Next(floor, live))
	}
}
