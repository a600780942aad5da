package app

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
)

// refresher coalesces work on ids (channels whose documents changed,
// sources whose state changed): while one call runs, further ids pile up
// and go into the next, single, call. Doing the work once per poll made a
// busy poller (hundreds of sources changing a second) re-read every
// source's state and re-render the same channels hundreds of times a
// second, starving the readers.
type refresher struct {
	mu      sync.Mutex
	pending map[string]bool
	wake    chan struct{}
}

func newRefresher() *refresher {
	return &refresher{pending: map[string]bool{}, wake: make(chan struct{}, 1)}
}

// mark asks for id to be worked on soon.
func (r *refresher) mark(id string) {
	r.mu.Lock()
	r.pending[id] = true
	r.mu.Unlock()
	r.poke()
}

func (r *refresher) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// run works on what was marked until ctx is done, then on what is still
// pending once more, and returns.
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
	clear(r.pending)
	r.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	if err := refresh(ids...); err != nil {
		log.Error("refresh channels", "ids", len(ids), "err", err)
	}
}
