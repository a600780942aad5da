package app

import (
	"fmt"
	"sync"

	"github.com/kpolicy/aggregator/internal/feed"
)

// readiness is ready once every source enabled at start has been polled
// once.
type readiness struct {
	mu      sync.Mutex
	pending map[string]bool
}

func newReadiness(sources []feed.Source) *readiness {
	r := &readiness{pending: map[string]bool{}}
	for _, s := range sources {
		if !s.Disabled {
			r.pending[s.ID] = true
		}
	}
	return r
}

func (r *readiness) Polled(sourceID string) {
	r.mu.Lock()
	delete(r.pending, sourceID)
	r.mu.Unlock()
}

// Ready is GET /readyz's answer: nil, or how many sources wait for their
// first poll.
func (r *readiness) Ready() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := len(r.pending); n > 0 {
		return fmt.Errorf("first poll not done: %d sources to go", n)
	}
	return nil
}
