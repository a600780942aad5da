package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/kpolicy/aggregator/internal/config"
	"github.com/kpolicy/aggregator/internal/fetch"
	"github.com/kpolicy/aggregator/internal/membership"
	"github.com/kpolicy/aggregator/internal/parse"
	"github.com/kpolicy/aggregator/internal/publish"
	"github.com/kpolicy/aggregator/internal/server"
	"github.com/kpolicy/aggregator/internal/websub"
)

// shutdownTimeout bounds the drain on SIGINT/SIGTERM: in-flight HTTP
// requests and the poll in flight.
const shutdownTimeout = 30 * time.Second

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var f flags
	fs := newFlagSet("serve", getenv, stderr, &f, true, true)
	logFormat := fs.String("log-format", envOr(getenv, "AGGREGATOR_LOG_FORMAT", "text"), "log lines as text or json (env AGGREGATOR_LOG_FORMAT)")
	pprofAddr := fs.String("pprof", getenv("AGGREGATOR_PPROF"), "serve net/http/pprof at this loopback address, e.g. 127.0.0.1:6060 (env AGGREGATOR_PPROF)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log, err := newLogger(stderr, *logFormat)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(f)
	if err != nil {
		return err
	}
	stopPprof, err := startPprof(ctx, *pprofAddr)
	if err != nil {
		return err
	}
	defer stopPprof()
	for _, w := range cfg.Warnings() {
		log.Warn("config", "warning", w)
	}

	db, err := openStore(cfg, false)
	if err != nil {
		return err
	}
	defer db.Close()

	// Which items each channel contains: built and followed in the
	// background; Configure only reads index states, so a thousand
	// channels cost nothing before the port listens.
	// The hub is told of every channel whose documents changed.
	var (
		site   *site
		hub    *websub.Hub
		cache  *publish.Cache
		pushes = newRefresher() // channels whose documents may have changed, for WebSub
		names  = newRefresher() // sources whose state changed, for the names documents give
	)
	members := membership.New(db, membership.Options{
		PageSize: cfg.Publish.PageSize,
		Logger:   log,
		OnChange: func(ids []string) {
			cache.Invalidate(ids...)
			site.indexer.Kick() // stories whose channels changed were written again
			for _, id := range ids {
				pushes.mark(id)
			}
		},
	})
	if err := members.Configure(ctx, cfg.Channels, cfg.Sources); err != nil {
		return fmt.Errorf("channels: %w", err)
	}
	if site, err = newSite(ctx, cfg, db, members, log, getenv); err != nil {
		return err
	}
	defer site.close()
	hubs := append([]string{cfg.Server.BaseURL + hubPath}, cfg.Publish.Hubs...)
	cache = publish.NewCache(members, db, cfg.Server.BaseURL, publish.Options{
		PageSize: cfg.Publish.PageSize,
		Hubs:     hubs,
		MaxBytes: cfg.Publish.CacheSize,
		OnChange: func(id string) {
			for _, topic := range topicURLs(cfg.Server.BaseURL, id) {
				if err := hub.Publish(topic); err != nil {
					log.Error("websub publish", "topic", topic, "err", err)
				}
			}
		},
	})
	hub = newHub(cfg, db, cache, websub.Options{Logger: log})
	defer hub.Close()
	if err := cache.Configure(cfg.Channels, cfg.Sources); err != nil {
		return fmt.Errorf("channels: %w", err)
	}
	cache.SetSite(cfg.Site)

	// Listen before anything runs in the background, so a taken port is an
	// error at start and tests can ask for :0.
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// Past the cap, idle keep-alives are closed (oldest first) and then
	// connections wait in the kernel's backlog; one client gets at most its
	// share: idle or slow clients can neither use up the process's file
	// descriptors nor keep a new client out.
	lim := server.NewListener(ln, server.ListenerOptions{Max: cfg.Server.Connections(), PerClient: cfg.Server.ConnectionsPerIP()})
	ln = lim
	srv := &http.Server{
		ConnState: lim.ConnState,
		Handler: server.New(cache, db, server.Options{
			Logger: log, MaxAge: cfg.Publish.MaxAge, BaseURL: cfg.Server.BaseURL, Hubs: hubs, WebSub: hub,
			Sources: cache, States: db, Extras: site.extras,
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}

	l := newLive(cfg, f, db, members, cache, log, func(r fetch.Result) {
		logResult(log, r)
		site.metrics.Poll(r)
		site.ready.Polled(r.SourceID)
		if r.Counts.Changed() {
			members.Kick()
			names.mark(r.SourceID)
			site.indexer.Kick()
		}
	})
	l.afterPrune = func() { members.Kick(); site.indexer.Kick() }
	refreshCtx, stopRefresh := context.WithCancel(context.WithoutCancel(ctx))
	var rwg sync.WaitGroup
	rwg.Go(func() {
		pushes.run(refreshCtx, func(ids ...string) error {
			ids, err := subscribed(refreshCtx, db, cfg, ids)
			if err != nil || len(ids) == 0 {
				return err
			}
			return cache.Refresh(ids...)
		}, log)
	})
	rwg.Go(func() { names.run(refreshCtx, cache.InvalidateSources, log) })
	pollCtx, stopPolling := context.WithCancel(context.WithoutCancel(ctx))
	reload := make(chan string, 1)
	if err := watchConfig(pollCtx, f.config, log, reload); err != nil {
		log.Warn("not watching the config file; reload with SIGHUP", "err", err)
	}
	forwardHangups(pollCtx, reload)
	var wg sync.WaitGroup
	wg.Go(func() { l.run(pollCtx, reload) })
	wg.Go(func() { members.Run(pollCtx) })
	wg.Go(func() { site.indexer.Run(pollCtx) })
	wg.Go(func() { site.flushLoop(pollCtx, log) })
	// Said once the config is watched, so a test may edit it from here on.
	fmt.Fprintf(stdout, "aggregator %s listening on http://%s\n", version(), ln.Addr())

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case err = <-serveErr:
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if serr := srv.Shutdown(shutdownCtx); serr != nil {
		err = errors.Join(err, fmt.Errorf("shutdown: %w", serr))
	}
	stopPolling()
	wg.Wait()
	stopRefresh()
	rwg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// newPoller wires the fetcher to the parser and the store.
func newPoller(cfg config.Config, db fetch.Store, onResult func(fetch.Result)) *fetch.Poller {
	return fetch.NewPoller(newClient(cfg), parse.New(), db, fetch.PollerOptions{
		Concurrency: cfg.Fetch.Concurrency,
		OnResult:    onResult,
		MaxInterval: cfg.Fetch.MaxInterval,
		HostGap:     cfg.Fetch.HostGap,
		Adaptive:    cfg.Fetch.Adaptive,
		HideFuture:  cfg.Fetch.FutureDates == config.FutureHide,
	})
}

// newClient is the poller's HTTP client for cfg: its User-Agent, timeout,
// body limit and private-network rule. Commands that fetch a page for a
// person (discover, preview-source) use it too, so they see what a poll
// sees.
func newClient(cfg config.Config) *fetch.Client {
	return fetch.NewClient(fetch.Options{
		UserAgent:    cfg.Fetch.UserAgentString(version()),
		Timeout:      cfg.Fetch.Timeout,
		MaxBody:      cfg.Fetch.MaxBody,
		AllowPrivate: cfg.Fetch.AllowPrivateNetworks,
	})
}

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
		log.Warn("poll", append(attrs, "warning", r.Warning)...)
		return
	}
	log.Info("poll", attrs...)
}
