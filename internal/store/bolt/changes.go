package bolt

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// The change feed of a file one process holds: every write transaction
// that commits wakes the watchers of this DB (in-process: no other
// process can write the file while it is open).

// broadcast wakes every waiter once per signal; signals while nobody
// waits cost a lock.
type broadcast struct {
	mu     sync.Mutex
	ch     chan struct{}
	closed bool
}

// wait returns a channel closed at the next signal (or at once, closed).
func (b *broadcast) wait() (<-chan struct{}, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch == nil {
		b.ch = make(chan struct{})
		if b.closed {
			close(b.ch)
		}
	}
	return b.ch, b.closed
}

func (b *broadcast) signal() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch != nil && !b.closed {
		close(b.ch)
		b.ch = nil
	}
}

func (b *broadcast) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		if b.ch != nil {
			close(b.ch)
		}
	}
}

// WatchChanges calls fn(0), then fn(LastRev) after each committed write
// transaction of this DB (coalesced), until ctx ends; see store.Changes.
// It returns an error once the DB is closed.
func (db *DB) WatchChanges(ctx context.Context, fn func(rev uint64)) error {
	c, closed := db.changes.wait()
	if closed {
		return fmt.Errorf("watch changes %s: %w", db.path, errClosed)
	}
	fn(0)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c:
		}
		if c, closed = db.changes.wait(); closed {
			return fmt.Errorf("watch changes %s: %w", db.path, errClosed)
		}
		rev, err := db.LastRev(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("watch changes: %w", err)
		}
		fn(rev)
	}
}

var errClosed = errors.New("store closed")
