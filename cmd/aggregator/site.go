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

// indexer keeps the search index up to date with the store, off the
// request path: Kick asks for a catch-up, Run does them one at a time.
// An item is indexed with the channels that publish it, as published
// (the membership index) says; until serve sets it, nothing is.
type indexer struct {
	ix        *search.Index
	db        *store.DB
	published labeller
	log       *slog.Logger
	kick      chan struct{}
}

// labeller says under which channel labels an item is published (see
// membership.Index.LabelsOf).
type labeller interface {
	LabelsOf(feed.Item) ([]string, error)
}

// searchStore is what the search index is fed from: the store, and the
// channels each item is published in, by label.
type searchStore struct {
	*store.DB
	published labeller
}

func (s searchStore) ChannelsOf(it feed.Item) ([]string, error) { return s.published.LabelsOf(it) }

func newIndexer(ix *search.Index, db *store.DB, log *slog.Logger) *indexer {
	return &indexer{ix: ix, db: db, log: log, kick: make(chan struct{}, 1)}
}

// Kick asks Run to index what was stored since; it never blocks.
func (x *indexer) Kick() {
	select {
	case x.kick <- struct{}{}:
	default: // a catch-up is already due; it will see this poll's items
	}
}

// Run catches up at once (after a crash the index may be behind), then
// after every Kick, until ctx ends.
func (x *indexer) Run(ctx context.Context) {
	x.Kick()
	for {
		select {
		case <-ctx.Done():
			return
		case <-x.kick:
		}
		start := time.Now()
		if x.published == nil {
			continue
		}
		n, err := x.ix.Sync(ctx, searchStore{x.db, x.published})
		if err != nil && ctx.Err() == nil {
			x.log.Error("search index", "indexed", n, "err", err)
		} else if n > 0 {
			x.log.Info("search index", "indexed", n, "duration", time.Since(start).Round(time.Millisecond))
		}
	}
}

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
	indexer *indexer
	ready   *readiness
	close   func() error
}

func newSite(cfg config.Config, db *store.DB, log *slog.Logger, getenv func(string) string) (*site, error) {
	ix, err := search.Open(searchPath(cfg.Storage.Path), searchStore{DB: db})
	if err != nil {
		return nil, fmt.Errorf("%w (rebuild it with: aggregator reindex)", err)
	}
	subs := server.NewSubscribers(db, nil)
	if err := subs.Load(); err != nil {
		_ = ix.Close()
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := metrics.New(reg, metrics.Options{
		StoreSize:   db.Size,
		StoreItems:  db.Count,
		IndexItems:  ix.Count,
		Subscribers: subs.Today,
	})
	if err != nil {
		_ = ix.Close()
		return nil, fmt.Errorf("metrics: %w", err)
	}
	ready := newReadiness(cfg.Sources)
	return &site{
		extras: server.Extras{
			BaseURL:     cfg.Server.BaseURL,
			Items:       db,
			Search:      ix,
			Subscribers: subs,
			Feeds:       m,
			Metrics:     m.Handler(),
			Ready:       ready.Ready,
			AdminToken:  getenv("AGGREGATOR_ADMIN_TOKEN"),
			Backup:      db,
		},
		metrics: m,
		subs:    subs,
		indexer: newIndexer(ix, db, log),
		ready:   ready,
		close:   ix.Close,
	}, nil
}

// extrasWith is the server's extras with the membership index, which the
// pages read their items from.
func (s *site) extrasWith(m *membership.Index) server.Extras {
	e := s.extras
	e.Members = m
	return e
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
			if err := s.subs.Flush(); err != nil {
				log.Error("subscriber statistics", "err", err)
			}
			return
		case <-t.C:
			if err := s.subs.Flush(); err != nil {
				log.Error("subscriber statistics", "err", err)
			}
		}
	}
}
