package fetch

import (
	"context"
	"sync"
)

// SourceLocks serialises the read-modify-write of one source's state: a
// poll, a pushed delivery (Poller.Deliver) and a WebSub subscription
// update (Poller.UpdateState) of one source never overlap, so none saves
// over what another just saved. One SourceLocks may be shared by the
// Pollers of a process (PollerOptions.Locks), so that a poller rebuilt by
// a reload excludes the last polls of the one it replaces. Its map holds
// only the sources locked or waited for at the moment.
type SourceLocks struct {
	mu sync.Mutex
	m  map[string]*sourceLock
}

type sourceLock struct {
	turn  chan struct{} // capacity 1: holding the token is holding the lock
	users int           // holders and waiters
}

// NewSourceLocks returns an empty set of locks.
func NewSourceLocks() *SourceLocks { return &SourceLocks{m: map[string]*sourceLock{}} }

// lock waits for sourceID's lock or for ctx to end (its error). The
// returned function releases the lock.
func (l *SourceLocks) lock(ctx context.Context, sourceID string) (unlock func(), err error) {
	l.mu.Lock()
	sl := l.m[sourceID]
	if sl == nil {
		sl = &sourceLock{turn: make(chan struct{}, 1)}
		l.m[sourceID] = sl
	}
	sl.users++
	l.mu.Unlock()
	release := func() {
		l.mu.Lock()
		if sl.users--; sl.users == 0 {
			delete(l.m, sourceID)
		}
		l.mu.Unlock()
	}
	select {
	case sl.turn <- struct{}{}:
		return func() { <-sl.turn; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}

// held is the number of sources locked or waited for (tests).
func (l *SourceLocks) held() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}
