package app

import (
	"context"
	"time"
)

// pruneEvery is how often every source's retention is applied, on top of a
// prune after each poll that stored new items.
const pruneEvery = time.Hour

// maintain prunes every source at start, after a reload and hourly, and a
// source soon after a poll stored new items in it. Each prune works in
// small write transactions: serving never waits. (max_age needs nothing
// here: the membership index ages members at read time.)
func (a *App) maintain(ctx context.Context) {
	sweep := time.NewTicker(pruneEvery)
	defer sweep.Stop()
	a.pruneAll(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case id := <-a.prune:
			a.pruneSource(ctx, id)
		case <-sweep.C:
			a.pruneAll(ctx)
		case <-a.sweep:
			a.pruneAll(ctx)
		}
	}
}

func (a *App) pruneAll(ctx context.Context) {
	for _, s := range a.cfg.Load().Sources {
		if ctx.Err() != nil {
			return
		}
		a.pruneSource(ctx, s.ID)
	}
	a.trimGone(ctx)
}

// trimGone forgets the deletions both followers of the write order (the
// membership and search indexes) have seen.
func (a *App) trimGone(ctx context.Context) {
	searched, err := a.st.IndexedRev(ctx)
	if err != nil {
		a.log.Error("trim deletions", "err", err)
		return
	}
	followed, err := a.members.Followed(ctx)
	if err != nil {
		a.log.Error("trim deletions", "err", err)
		return
	}
	if _, err := a.st.TrimGone(ctx, min(searched, followed)); err != nil {
		a.log.Error("trim deletions", "err", err)
	}
}

// pruneSource applies one source's retention; when it deleted items, the
// membership and search indexes follow the deletions.
func (a *App) pruneSource(ctx context.Context, id string) {
	s, ok := a.cfg.Load().Source(id)
	if !ok {
		return
	}
	res, err := a.st.Prune(ctx, id, s.Keep, a.now())
	if err != nil {
		a.log.Error("prune", "source", id, "err", err)
		return
	}
	if res.Items > 0 || res.Tombstones > 0 {
		a.log.Info("pruned", "source", id, "items", res.Items, "batches", res.Batches, "tombstones_dropped", res.Tombstones)
	}
	if res.Items > 0 {
		a.members.Kick()
		a.indexer.Kick()
	}
}
