package search

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Indexer keeps an Index up to date with a Store, off the request path:
// Kick asks for a catch-up, Run does them one at a time. A failed catch-up
// (a full disk, the store failing) is recorded (State), logged, and tried
// again after a backoff that doubles from minRetry to maxRetry; serving
// goes on meanwhile with what the index holds.
type Indexer struct {
	ix   syncer
	st   Store
	log  *slog.Logger
	kick chan struct{}

	mu    sync.Mutex
	state IndexerState
}

// syncer is what the Indexer needs of an Index.
type syncer interface {
	Sync(ctx context.Context, st Store) (int, error)
}

// IndexerState is what the Indexer last saw, for the status page and the
// metrics.
type IndexerState struct {
	LastSuccess time.Time // end of the last catch-up that succeeded
	LastError   string    // the last failure; "" once a catch-up succeeds
	Failing     int       // catch-ups failed in a row
	Failures    int       // catch-ups failed since start
	NextTry     time.Time // when a failing Indexer tries again
	// Behind is the number of the store's writes the index does not hold
	// yet, read when State is called: those still to index, and those
	// waiting for the membership indexes to judge them. 0 is caught up
	// (and also what a store that cannot be read gives: LastError then
	// says so after the next catch-up).
	Behind uint64
}

// Retry bounds of a failing Indexer.
var (
	minRetry = time.Second
	maxRetry = 5 * time.Minute
)

// NewIndexer returns an Indexer of ix from st; log gets one line per
// catch-up that indexed something or failed (nil: none).
func NewIndexer(ix *Index, st Store, log *slog.Logger) *Indexer {
	return newIndexer(ix, st, log)
}

func newIndexer(ix syncer, st Store, log *slog.Logger) *Indexer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Indexer{ix: ix, st: st, log: log, kick: make(chan struct{}, 1)}
}

// Kick asks Run to index what was stored since; it never blocks.
func (x *Indexer) Kick() {
	select {
	case x.kick <- struct{}{}:
	default: // a catch-up is already due; it will see this poll's items
	}
}

// State returns what the Indexer last saw.
func (x *Indexer) State() IndexerState {
	x.mu.Lock()
	st := x.state
	x.mu.Unlock()
	if x.st == nil {
		return st
	}
	ctx := context.Background() // a status read: two short reads of the store
	indexed, err1 := x.st.IndexedRev(ctx)
	if b, ok := x.ix.(interface {
		Indexed() (uint64, bool, error)
	}); ok {
		// This index's own bookmark: the store's may be another
		// instance's index's.
		if rev, kept, err := b.Indexed(); err == nil && kept {
			indexed = rev
		}
	}
	last, err2 := x.st.LastRev(ctx)
	if err1 == nil && err2 == nil && last > indexed {
		st.Behind = last - indexed
	}
	return st
}

// Run catches up at once (after a crash the index may be behind), then
// after every Kick, and after a failure once its backoff has passed,
// until ctx ends.
func (x *Indexer) Run(ctx context.Context) {
	x.Kick()
	var retry <-chan time.Time
	backoff := minRetry
	for {
		select {
		case <-ctx.Done():
			return
		case <-x.kick:
			if retry != nil {
				continue // failing: the retry will index these items too
			}
		case <-retry:
		}
		start := time.Now()
		n, err := x.ix.Sync(ctx, x.st)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			x.mu.Lock()
			x.state.LastError = err.Error()
			x.state.Failing++
			x.state.Failures++
			x.state.NextTry = time.Now().Add(backoff)
			failing := x.state.Failing
			x.mu.Unlock()
			x.log.Error("search index", "indexed", n, "failing", failing, "retry", backoff, "err", err)
			retry = time.After(backoff)
			backoff = min(2*backoff, maxRetry)
			continue
		}
		retry, backoff = nil, minRetry
		x.mu.Lock()
		x.state.LastSuccess, x.state.LastError, x.state.Failing, x.state.NextTry = time.Now(), "", 0, time.Time{}
		x.mu.Unlock()
		if n > 0 {
			x.log.Info("search index", "indexed", n, "duration", time.Since(start).Round(time.Millisecond))
		}
	}
}
