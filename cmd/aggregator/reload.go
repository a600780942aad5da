package main

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/kpolicy/aggregator/internal/config"
	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/fetch"
	"github.com/kpolicy/aggregator/internal/membership"
	"github.com/kpolicy/aggregator/internal/publish"
	"github.com/kpolicy/aggregator/internal/store"
)

const (
	// reloadDebounce merges the burst of events an editor's save makes
	// (write a temporary file, rename it over feeds.yaml) into one reload.
	reloadDebounce = 300 * time.Millisecond
	// pruneEvery is how often every source's retention is applied, on top
	// of a prune after each poll that stored new items.
	pruneEvery = time.Hour
)

// live is serve's running configuration: it polls the current sources,
// reloads the config on request, and prunes in the background.
type live struct {
	f        flags
	db       store.Store
	members  *membership.Index
	cache    *publish.Cache
	log      *slog.Logger
	onResult func(fetch.Result)
	// afterPrune is called when a prune deleted items: the membership and
	// search indexes follow the deletions.
	afterPrune func()
	cfg        atomic.Pointer[config.Config]
	prune      chan string   // source ids to prune soon
	sweep      chan struct{} // prune every source soon (after a reload)
}

func newLive(cfg config.Config, f flags, db store.Store, members *membership.Index, cache *publish.Cache, log *slog.Logger, onResult func(fetch.Result)) *live {
	l := &live{f: f, db: db, members: members, cache: cache, log: log, prune: make(chan string, 64), sweep: make(chan struct{}, 1),
		afterPrune: func() {}}
	l.onResult = func(r fetch.Result) {
		onResult(r)
		if r.Counts.New > 0 {
			select {
			case l.prune <- r.SourceID:
			default: // the hourly sweep will get to it
			}
		}
	}
	l.cfg.Store(&cfg)
	return l
}

// run polls until ctx is done. A request on reload loads the config again:
// an invalid one is logged and ignored; a valid one re-renders the channels
// and, when the sources or fetch settings changed, restarts the poll loop
// on the new sources (after the polls in flight finish). Sources polled
// before keep their schedule, new ones are polled at once.
func (l *live) run(ctx context.Context, reload <-chan string) {
	var wg sync.WaitGroup
	wg.Go(func() { l.maintain(ctx) })
	defer wg.Wait()

	cfg := l.cfg.Load()
	poller := newPoller(*cfg, l.db, l.onResult)
	for {
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func(p *fetch.Poller, sources []feed.Source) {
			defer close(done)
			if err := p.Run(runCtx, sources); err != nil {
				l.log.Error("poller stopped", "err", err)
			}
		}(poller, cfg.Sources)

		rebuild, restart := false, false
		for !restart {
			select {
			case <-ctx.Done():
				stop()
				<-done
				return
			case why := <-reload:
				next, ok := l.reload(ctx, why)
				if !ok {
					continue
				}
				select { // retention may have changed
				case l.sweep <- struct{}{}:
				default:
				}
				rebuild = next.Fetch != cfg.Fetch
				restart = rebuild || !slices.EqualFunc(next.Sources, cfg.Sources, samePolling)
				cfg = next
			}
		}
		stop()
		<-done
		if rebuild {
			poller = newPoller(*cfg, l.db, l.onResult)
		}
	}
}

// samePolling reports whether two sources are polled alike (and their
// pages read with the same scrape settings).
func samePolling(a, b feed.Source) bool {
	return a.ID == b.ID && a.URL == b.URL && a.Interval == b.Interval && a.Disabled == b.Disabled &&
		a.ParseSettings() == b.ParseSettings()
}

// reload loads the config file again and, if it is valid and fit to
// replace the running one (config.CheckReload: not empty, not cut short,
// not losing every source or channel unless it says so), publishes its
// channels. It logs every problem of a refused file and returns false;
// the running config stays.
func (l *live) reload(ctx context.Context, why string) (*config.Config, bool) {
	old := l.cfg.Load()
	next, err := loadConfig(l.f)
	if err == nil {
		err = next.CheckReload(*old)
	}
	if err != nil {
		probs := config.Problems(err)
		for _, p := range probs {
			l.log.Error("config reload rejected; still serving the previous config", "why", why, "problem", p.Error())
		}
		if len(probs) == 0 {
			l.log.Error("config reload rejected; still serving the previous config", "why", why, "err", err)
		}
		return nil, false
	}
	for _, k := range []struct {
		key      string
		old, new *string
	}{
		{"server.listen", &old.Server.Listen, &next.Server.Listen},
		{"server.base_url", &old.Server.BaseURL, &next.Server.BaseURL},
		{"storage.path", &old.Storage.Path, &next.Storage.Path},
	} {
		if *k.old != *k.new {
			l.log.Warn("config reload: this key needs a restart; keeping the running value", "key", k.key, "running", *k.old, "file", *k.new)
			*k.new = *k.old
		}
	}
	for _, w := range next.Warnings() {
		l.log.Warn("config", "warning", w)
	}
	// The membership first: from here on every read re-checks what it
	// shows against the new rules, while the indexes of changed channels
	// are built in the background.
	if err := l.members.Configure(ctx, next.Channels, next.Sources); err != nil {
		l.log.Error("config reload: channels not configured; still serving the previous config", "err", err)
		return nil, false
	}
	if err := l.cache.Configure(next.Channels, next.Sources); err != nil {
		l.log.Error("config reload: channels not configured; still serving the previous config", "err", err)
		return nil, false
	}
	l.cache.SetSite(next.Site)
	l.cfg.Store(&next)
	l.log.Info("config reloaded", "why", why, "sources", len(next.Sources), "channels", len(next.Channels))
	return &next, true
}

// maintain prunes every source at start, after a reload and hourly, and a
// source soon after a poll stored new items in it. Each prune works in
// small write transactions: serving never waits. (max_age needs nothing
// here: the membership index ages members at read time.)
func (l *live) maintain(ctx context.Context) {
	sweep := time.NewTicker(pruneEvery)
	defer sweep.Stop()
	l.pruneAll(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case id := <-l.prune:
			l.pruneSource(ctx, id)
		case <-sweep.C:
			l.pruneAll(ctx)
		case <-l.sweep:
			l.pruneAll(ctx)
		}
	}
}

func (l *live) pruneAll(ctx context.Context) {
	for _, s := range l.cfg.Load().Sources {
		if ctx.Err() != nil {
			return
		}
		l.pruneSource(ctx, s.ID)
	}
	l.trimGone(ctx)
}

// trimGone forgets the deletions both followers of the write order (the
// membership and search indexes) have seen.
func (l *live) trimGone(ctx context.Context) {
	searched, err := l.db.IndexedRev(ctx)
	if err != nil {
		l.log.Error("trim deletions", "err", err)
		return
	}
	followed, err := l.members.Followed(ctx)
	if err != nil {
		l.log.Error("trim deletions", "err", err)
		return
	}
	if _, err := l.db.TrimGone(ctx, min(searched, followed)); err != nil {
		l.log.Error("trim deletions", "err", err)
	}
}

func (l *live) pruneSource(ctx context.Context, id string) {
	s, ok := l.cfg.Load().Source(id)
	if !ok {
		return
	}
	res, err := l.db.Prune(ctx, id, s.Keep, time.Now())
	if err != nil {
		l.log.Error("prune", "source", id, "err", err)
		return
	}
	if res.Items > 0 || res.Tombstones > 0 {
		l.log.Info("pruned", "source", id, "items", res.Items, "batches", res.Batches, "tombstones_dropped", res.Tombstones)
	}
	if res.Items > 0 {
		l.afterPrune()
	}
}

// requestReload asks for a reload without blocking; requests made while
// one is pending merge into it.
func requestReload(ch chan<- string, why string) {
	select {
	case ch <- why:
	default:
	}
}

// watchConfig requests a reload when the config file is written, created,
// renamed or removed, debounced. It watches the file's directory, so a save
// that renames a new file over the old one is seen. It stops when ctx ends.
func watchConfig(ctx context.Context, path string, log *slog.Logger, reload chan<- string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	if err := w.Add(filepath.Dir(abs)); err != nil {
		w.Close()
		return errors.Join(err, errors.New("watch "+filepath.Dir(abs)))
	}
	go func() {
		defer w.Close()
		debounce := time.NewTimer(time.Hour)
		debounce.Stop()
		defer debounce.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if filepath.Clean(ev.Name) == abs && ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename|fsnotify.Remove) != 0 {
					debounce.Reset(reloadDebounce)
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				log.Warn("watch config", "err", err)
			case <-debounce.C:
				requestReload(reload, "file changed")
			}
		}
	}()
	return nil
}
