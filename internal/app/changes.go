package app

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/fetch"
)

// changesBatch is how many written items the change listener reads at a
// time from the write order.
const changesBatch = 1000

// changeStore is what the change listener needs of the store: its change
// feed and the write order.
type changeStore interface {
	WatchChanges(ctx context.Context, fn func(rev uint64)) error
	ItemsSince(ctx context.Context, rev uint64, limit int) ([]feed.Item, error)
	LastRev(ctx context.Context) (uint64, error)
}

// followChanges is the change listener: until ctx ends, on each change
// the store reports (another instance's write, or this one's), it reads
// the write order from the last Rev it saw and does what a poll result
// does here (stored): the membership index, the names the documents give
// each written source, the search index. Changes that arrive while it
// reads are coalesced into one more read. A failing read is logged and
// tried again a second later, then less often.
func (a *App) followChanges(ctx context.Context, st changeStore) {
	// Where this instance stands: everything written before is what New
	// read and what the membership index catches up with at its start.
	// Read before listening, so that nothing written after is missed.
	seen, err := st.LastRev(ctx)
	known := err == nil
	if known {
		// The documents' names of the sources (their feeds' titles, links
		// and dates, from the saved states) were read by New, before seen:
		// another instance's polls in between wrote states that no change
		// read from seen on will name. Read every source's once more.
		for _, s := range a.Config().Sources {
			a.names.mark(s.ID)
		}
	}
	wait := time.Second
	retry := time.NewTimer(0)
	if !retry.Stop() {
		<-retry.C
	}
	if !known && ctx.Err() == nil {
		a.log.Error("change feed: reading the write order", "err", err, "retry_in", wait)
		retry.Reset(wait)
	}

	kick := make(chan struct{}, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	watchCtx, stop := context.WithCancel(ctx)
	defer stop()
	wg.Go(func() {
		err := st.WatchChanges(watchCtx, func(uint64) {
			select {
			case kick <- struct{}{}:
			default:
			}
		})
		if err != nil && watchCtx.Err() == nil {
			a.log.Error("change feed stopped: writes of other instances are seen only at their next poll here", "err", err)
		}
	})

	for {
		select {
		case <-ctx.Done():
			return
		case <-kick:
		case <-retry.C:
		}
		if !known {
			if seen, err = st.LastRev(ctx); err == nil {
				known = true // what was written in between is caught up by the membership index alone
				continue
			}
		} else {
			seen, err = a.changedSince(ctx, st, seen)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			a.log.Error("change feed: reading the write order", "err", err, "retry_in", wait)
			retry.Reset(wait)
			wait = min(2*wait, time.Minute)
			continue
		}
		wait = time.Second
	}
}

// changedSince reads the write order after rev and sets off, for the
// sources written, what storing their items would here; it returns the
// last Rev read.
func (a *App) changedSince(ctx context.Context, st changeStore, rev uint64) (uint64, error) {
	var sources []string
	for {
		items, err := st.ItemsSince(ctx, rev, changesBatch)
		if err != nil {
			return rev, err
		}
		for _, it := range items {
			sources = append(sources, it.SourceID)
			for _, o := range it.Origins {
				sources = append(sources, o.SourceID)
			}
		}
		if len(items) > 0 {
			rev = items[len(items)-1].Rev
		}
		if len(items) < changesBatch {
			break
		}
	}
	// Another instance's index updates move no Rev (a build completed, a
	// catch-up): the followers here are woken on every change all the same.
	a.members.Kick()
	a.indexer.Kick()
	slices.Sort(sources)
	for _, src := range slices.Compact(sources) {
		// Counts of one changed item: what a poll that changed something
		// sets off (the pruning is the writer's).
		a.stored(fetch.Result{SourceID: src, Counts: feed.PollCounts{Updated: 1}})
	}
	return rev, nil
}
