package main

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
)

// refresher re-renders the channels of sources whose polls changed
// something, coalescing: while one render runs, further sources pile up and
// go into the next, single, render. Rendering once per poll made a busy
// poller (hundreds of sources changing a second) re-read every source's
// state and re-render the same channels hundreds of times a second, starving
// the readers.
type refresher struct {
	mu      sync.Mutex
	pending map[string]bool
	all     bool // every channel: a merge can change channels of other sources
	wake    chan struct{}
}

func newRefresher() *refresher {
	return &refresher{pending: map[string]bool{}, wake: make(chan struct{}, 1)}
}

// mark asks for the channels of sourceID to be rendered again soon.
func (r *refresher) mark(sourceID string) {
	r.mu.Lock()
	r.pending[sourceID] = true
	r.mu.Unlock()
	r.poke()
}

// markAll asks for every channel to be rendered again soon: a poll that
// merged a copy into another source's story changes the channels of the
// story's first origin too.
func (r *refresher) markAll() {
	r.mu.Lock()
	r.all = true
	r.mu.Unlock()
	r.poke()
}

func (r *refresher) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// run renders what was marked until ctx is done, then renders what is
// still pending once more and returns.
func (r *refresher) run(ctx context.Context, refresh func(sourceIDs ...string) error, log *slog.Logger) {
	for {
		select {
		case <-r.wake:
		case <-ctx.Done():
			r.flush(refresh, log)
			return
		}
		r.flush(refresh, log)
	}
}

func (r *refresher) flush(refresh func(sourceIDs ...string) error, log *slog.Logger) {
	r.mu.Lock()
	ids := slices.Sorted(maps.Keys(r.pending))
	all := r.all
	clear(r.pending)
	r.all = false
	r.mu.Unlock()
	if all {
		ids = nil // Refresh with no ids renders every channel
	} else if len(ids) == 0 {
		return
	}
	if err := refresh(ids...); err != nil {
		log.Error("render channels", "sources", len(ids), "err", err)
	}
}
