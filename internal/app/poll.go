package app

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/kpolicy/aggregator/internal/config"
	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/fetch"
)

// pollLoop polls the running config's sources until ctx is done. A reload
// request loads the config again (reload): a refused one changes nothing;
// an accepted one re-renders the channels and, when the sources or fetch
// settings changed, restarts the poller on the new sources (after the
// polls in flight finish). Sources polled before keep their schedule, new
// ones are polled at once. The poller's goroutines are joined before each
// restart and before pollLoop returns.
func (a *App) pollLoop(ctx context.Context) {
	cfg := a.cfg.Load()
	poller := a.poller.Load() // New's
	for {
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func(p *fetch.Poller, sources []feed.Source) {
			defer close(done)
			if err := p.Run(runCtx, sources); err != nil {
				a.log.Error("poller stopped", "err", err)
			}
		}(poller, cfg.Sources)

		rebuild, restart := false, false
		for !restart {
			select {
			case <-ctx.Done():
				stop()
				<-done
				return
			case why := <-a.reload:
				next, ok := a.reloadConfig(ctx, why)
				if !ok {
					continue
				}
				select { // retention may have changed
				case a.sweep <- struct{}{}:
				default:
				}
				rebuild = next.Fetch != cfg.Fetch
				restart = rebuild || !slices.EqualFunc(next.Sources, cfg.Sources, samePolling)
				cfg = next
				a.push.Configure(cfg.Sources) // removed and disabled sources are unsubscribed
			}
		}
		stop()
		<-done
		if rebuild {
			poller = a.newPoller(*cfg)
			a.poller.Store(poller)
		}
	}
}

// newPoller is the poller of cfg's fetch settings, reporting to onResult;
// every poller of the App shares its source locks with deliveries, and,
// on a store shared by instances, claims what it polls (lease.go).
func (a *App) newPoller(cfg config.Config) *fetch.Poller {
	return newPoller(cfg, NewClient(cfg, a.d.Transport), a.st, a.onResult, a.now, a.locks, a.claims(cfg))
}

// samePolling reports whether two sources are polled alike (and their
// pages read with the same scrape settings).
func samePolling(a, b feed.Source) bool {
	return a.ID == b.ID && a.URL == b.URL && a.Interval == b.Interval && a.Disabled == b.Disabled &&
		a.ParseSettings() == b.ParseSettings()
}

// onResult is what a poll sets off: the log line, the metrics, readiness,
// and, when it changed what is stored, the membership index, the names
// the documents give the source and the search index; a poll that stored
// new items asks for its source to be pruned soon. It is called from the
// poller's goroutines, concurrently.
func (a *App) onResult(r fetch.Result) {
	logResult(a.log, r)
	a.metrics.Poll(r)
	a.ready.Polled(r.SourceID)
	if r.Counts.Changed() {
		a.push.Kick() // a new body may name a hub
	}
	a.stored(r)
}

// stored is what storing a poll's or a delivery's items sets off: when
// they changed what is stored, the membership index, the names the
// documents give the source and the search index; when they were new, the
// pruning of the source soon.
func (a *App) stored(r fetch.Result) {
	if r.Counts.Changed() {
		a.members.Kick()
		a.names.mark(r.SourceID)
		a.indexer.Kick()
	}
	if r.Counts.New > 0 {
		select {
		case a.prune <- r.SourceID:
		default: // the hourly sweep will get to it
		}
	}
}

// logResult logs one poll: the one place that logs a failure and carries
// on (the failure is recorded on the source's state too).
func logResult(log *slog.Logger, r fetch.Result) {
	attrs := []any{"source", r.SourceID, "status", r.Status, "new", r.Counts.New,
		"updated", r.Counts.Updated, "unchanged", r.Counts.Unchanged,
		"duration", r.Duration.Round(time.Millisecond), "next", r.NextPoll.Format(time.RFC3339)}
	if r.Counts.Merged > 0 {
		attrs = append(attrs, "merged", r.Counts.Merged)
	}
	if r.Warning != "" {
		attrs = append(attrs, "warning", r.Warning)
	}
	if r.Err != nil {
		log.Warn("poll failed", append(attrs, "err", r.Err)...)
		return
	}
	if r.Warning != "" {
		log.Warn("poll", attrs...) // the warning is in attrs once
		return
	}
	log.Info("poll", attrs...)
}
