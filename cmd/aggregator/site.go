package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/kpolicy/aggregator/internal/config"
	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/membership"
	"github.com/kpolicy/aggregator/internal/metrics"
	"github.com/kpolicy/aggregator/internal/search"
	"github.com/kpolicy/aggregator/internal/server"
	"github.com/kpolicy/aggregator/internal/store"
)

// newLogger returns the program's logger: text lines by default, one JSON
// object per line with format "json".
func newLogger(w io.Writer, format string) (*slog.Logger, error) {
	switch format {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, nil)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, nil)), nil
	}
	return nil, fmt.Errorf("%w: -log-format must be text or json (got %q)", errUsage, format)
}

// searchPath is where the search index of the database at dbPath lives.
func searchPath(dbPath string) string { return dbPath + ".search" }

// labeller says under which channel labels an item is published, and up
// to which write it knows (see membership.Index.LabelsOf and Followed).
type labeller interface {
	LabelsOf(context.Context, feed.Item) ([]string, error)
	Followed(context.Context) (uint64, error)
}

// searchStore is what the search index is fed from: the store's write
// order, and the channels each item is published in, by label.
type searchStore struct {
	store.WriteOrder
	published labeller
}

func (s searchStore) ChannelsOf(ctx context.Context, it feed.Item) ([]string, error) {
	return s.published.LabelsOf(ctx, it)
}

func (s searchStore) Judged(ctx context.Context) (uint64, error) { return s.published.Followed(ctx) }

// readiness is ready once every enabled source has been polled once.
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

func (r *readiness) Ready() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := len(r.pending); n > 0 {
		return fmt.Errorf("first poll not done: %d sources to go", n)
	}
	return nil
}

// site builds what the server needs beyond the feeds: the search index and
// its indexer, metrics on a registry of their own, subscriber statistics,
// readiness and the admin token. close releases the index.
type site struct {
	extras  server.Extras
	metrics *metrics.Metrics
	subs    *server.Subscribers
	indexer *search.Indexer
	ready   *readiness
	close   func() error
}

// newSite builds the site's parts; members says which items each channel
// shows, for the pages and the search index.
func newSite(ctx context.Context, cfg config.Config, db store.Store, members *membership.Index, log *slog.Logger, getenv func(string) string) (*site, error) {
	st := searchStore{db, members}
	ix, err := search.Open(searchPath(cfg.Storage.Path), st)
	if err != nil {
		return nil, fmt.Errorf("%w (rebuild it with: aggregator reindex)", err)
	}
	subs := server.NewSubscribers(db, nil)
	if err := subs.Load(ctx); err != nil {
		_ = ix.Close()
		return nil, err
	}
	indexer := search.NewIndexer(ix, st, log)
	// A scrape during the shutdown drain still reads the store.
	mctx := context.WithoutCancel(ctx)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := metrics.New(reg, metrics.Options{
		StoreSize:   func() (int64, error) { return db.Size(mctx) },
		StoreItems:  func() (int, error) { return db.Count(mctx) },
		IndexItems:  ix.Count,
		Subscribers: subs.Today,
		Indexing:    indexer.State,
		WebSubSubs: func() (int, error) {
			subs, err := db.Subscriptions(mctx, "")
			return len(subs), err
		},
	})
	if err != nil {
		_ = ix.Close()
		return nil, fmt.Errorf("metrics: %w", err)
	}
	ready := newReadiness(cfg.Sources)
	var backup server.Backuper
	if b, ok := db.(store.Backuper); ok {
		backup = b
	}
	return &site{
		extras: server.Extras{
			BaseURL:     cfg.Server.BaseURL,
			Items:       db,
			Members:     members,
			Search:      ix,
			Subscribers: subs,
			Feeds:       m,
			Metrics:     m.Handler(),
			Ready:       ready.Ready,
			AdminToken:  getenv("AGGREGATOR_ADMIN_TOKEN"),
			Backup:      backup,
			Indexing:    indexer.State,
		},
		metrics: m,
		subs:    subs,
		indexer: indexer,
		ready:   ready,
		close:   ix.Close,
	}, nil
}

// flushEvery is how often subscriber statistics are written to the store.
const flushEvery = 10 * time.Minute

// flushLoop writes subscriber statistics every flushEvery and once more
// when ctx ends.
func (s *site) flushLoop(ctx context.Context, log *slog.Logger) {
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := s.subs.Flush(context.WithoutCancel(ctx)); err != nil {
				log.Error("subscriber statistics", "err", err)
			}
			return
		case <-t.C:
			if err := s.subs.Flush(ctx); err != nil {
				log.Error("subscriber statistics", "err", err)
			}
		}
	}
}
