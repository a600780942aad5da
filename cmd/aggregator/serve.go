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
	"github.com/kpolicy/aggregator/internal/parse"
	"github.com/kpolicy/aggregator/internal/publish"
	"github.com/kpolicy/aggregator/internal/server"
	"github.com/kpolicy/aggregator/internal/store"
)

// shutdownTimeout bounds the drain on SIGINT/SIGTERM: in-flight HTTP
// requests and the poll in flight.
const shutdownTimeout = 30 * time.Second

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var f flags
	fs := newFlagSet("serve", getenv, stderr, &f, true, true)
	pprofAddr := fs.String("pprof", getenv("AGGREGATOR_PPROF"), "serve net/http/pprof at this loopback address, e.g. 127.0.0.1:6060 (env AGGREGATOR_PPROF)")
	if err := parseFlags(fs, args); err != nil {
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
	log := slog.New(slog.NewTextHandler(stderr, nil))
	for _, w := range cfg.Warnings() {
		log.Warn("config", "warning", w)
	}

	db, err := store.Open(cfg.Storage.Path, store.Options{})
	if err != nil {
		return err
	}
	defer db.Close()

	cache := publish.NewCache(db, cfg.Server.BaseURL)
	if err := cache.Configure(cfg.Channels, cfg.Sources); err != nil {
		return fmt.Errorf("render channels: %w", err)
	}

	// Listen before anything runs in the background, so a taken port is an
	// error at start and tests can ask for :0.
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           server.New(cache, db, server.Options{Logger: log}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	fmt.Fprintf(stdout, "aggregator %s listening on http://%s\n", version(), ln.Addr())

	poller := newPoller(cfg, db, func(r fetch.Result) {
		logResult(log, r)
		if r.Counts.Changed() {
			if err := cache.Refresh(r.SourceID); err != nil {
				log.Error("render channels", "source", r.SourceID, "err", err)
			}
		}
	})
	pollCtx, stopPolling := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := poller.Run(pollCtx, cfg.Sources); err != nil {
			log.Error("poller stopped", "err", err)
		}
	})

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
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// newPoller wires the fetcher to the parser and the store.
func newPoller(cfg config.Config, db *store.DB, onResult func(fetch.Result)) *fetch.Poller {
	client := fetch.NewClient(fetch.Options{
		UserAgent:    cfg.Fetch.UserAgentString(version()),
		Timeout:      cfg.Fetch.Timeout,
		MaxBody:      cfg.Fetch.MaxBody,
		AllowPrivate: cfg.Fetch.AllowPrivateNetworks,
	})
	return fetch.NewPoller(client, parse.New(), db, fetch.PollerOptions{
		Concurrency: cfg.Fetch.Concurrency,
		OnResult:    onResult,
	})
}

func logResult(log *slog.Logger, r fetch.Result) {
	attrs := []any{"source", r.SourceID, "status", r.Status, "new", r.Counts.New,
		"updated", r.Counts.Updated, "unchanged", r.Counts.Unchanged,
		"duration", r.Duration.Round(time.Millisecond), "next", r.NextPoll.Format(time.RFC3339)}
	if r.Err != nil {
		log.Warn("poll failed", append(attrs, "err", r.Err)...)
		return
	}
	log.Info("poll", attrs...)
}
