package app

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// readiness is ready once every source enabled at start has a poll on
// record (one before this start, in the store, for the URL it has now, or
// its first poll since) and the membership index follows what the store
// held then: a load balancer sends readers only to an instance whose
// documents show what its store holds. A restarted instance waits for its
// index, not for sources next due in an hour. Once ready it stays ready
// (later polls do not take an instance out of rotation while the index
// catches up on them).
type readiness struct {
	mu      sync.Mutex
	pending map[string]bool
	// target is the store's last Rev read once the first polls were done,
	// 0 before; ready is set once the index followed it.
	target uint64
	ready  bool

	lastRev  func(context.Context) (uint64, error)
	followed func(context.Context) (uint64, error)
}

// newReadiness waits for the enabled sources that states (the store's,
// at start) show no poll of at the URL configured now.
func newReadiness(sources []feed.Source, states []feed.SourceState, lastRev, followed func(context.Context) (uint64, error)) *readiness {
	r := &readiness{pending: map[string]bool{}, lastRev: lastRev, followed: followed}
	polled := make(map[string]string, len(states)) // source id → the URL its last poll was for ("" before states kept it)
	for _, st := range states {
		if !st.LastPoll.IsZero() {
			polled[st.SourceID] = st.ConfiguredURL
		}
	}
	for _, s := range sources {
		if u, ok := polled[s.ID]; s.Disabled || ok && (u == "" || u == s.URL) {
			continue
		}
		r.pending[s.ID] = true
	}
	return r
}

func (r *readiness) Polled(sourceID string) {
	r.mu.Lock()
	delete(r.pending, sourceID)
	r.mu.Unlock()
}

// Ready is GET /readyz's answer: nil, or what is still to come (sources
// waiting for their first poll, or the index behind their writes).
func (r *readiness) Ready() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ready {
		return nil
	}
	if n := len(r.pending); n > 0 {
		return fmt.Errorf("first poll not done: %d sources to go", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if r.target == 0 {
		last, err := r.lastRev(ctx)
		if err != nil {
			return fmt.Errorf("readiness: %w", err)
		}
		if last == 0 {
			r.ready = true // nothing stored: nothing to follow
			return nil
		}
		r.target = last
	}
	f, err := r.followed(ctx)
	if err != nil {
		return fmt.Errorf("readiness: %w", err)
	}
	if f < r.target {
		return fmt.Errorf("first poll done; channels follow the store up to write %d of %d", f, r.target)
	}
	r.ready = true
	return nil
}
