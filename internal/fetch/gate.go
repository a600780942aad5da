package fetch

import (
	"context"
	"sync"
)

// gate enforces a Poller's limits across all its callers (Run, PollAll and
// direct Polls alike): at most cap(slots) polls in flight, and at most one
// per host. A later per-host rate limit belongs here too.
type gate struct {
	slots chan struct{}
	mu    sync.Mutex
	hosts map[string]*hostLock
}

// hostLock is one host's turn; users counts holders and waiters so the
// entry can be dropped when nobody needs it.
type hostLock struct {
	turn  chan struct{} // capacity 1: holding the token is having the turn
	users int
}

func newGate(concurrency int) *gate {
	return &gate{slots: make(chan struct{}, concurrency), hosts: map[string]*hostLock{}}
}

// enter waits for host's turn, then for a global slot, and returns the
// function that gives both back. It returns ctx.Err() if ctx ends first.
// Taking the host first means no global slot is held while waiting on a
// busy host.
func (g *gate) enter(ctx context.Context, host string) (leave func(), err error) {
	g.mu.Lock()
	h := g.hosts[host]
	if h == nil {
		h = &hostLock{turn: make(chan struct{}, 1)}
		g.hosts[host] = h
	}
	h.users++
	g.mu.Unlock()

	release := func() {
		g.mu.Lock()
		if h.users--; h.users == 0 {
			delete(g.hosts, host)
		}
		g.mu.Unlock()
	}
	select {
	case h.turn <- struct{}{}:
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
	select {
	case g.slots <- struct{}{}:
	case <-ctx.Done():
		<-h.turn
		release()
		return nil, ctx.Err()
	}
	return func() {
		<-g.slots
		<-h.turn
		release()
	}, nil
}
