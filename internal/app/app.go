// Package app is the running aggregator: what "aggregator serve" does once
// its flags are parsed, its config loaded and its store opened. It wires
// the poller, the membership index, the rendered documents, the search
// index, the WebSub hub and subscriber, subscriber statistics, readiness and the HTTP
// handler, and owns every goroutine of the service.
//
// # Lifecycle
//
// [New] builds everything and starts none of the service's goroutines
// (the search index and the hub, library types that own goroutines of
// their own, are opened by it and closed when Run returns). [App.Run]
// starts every loop under one owner, serves until its context ends, then
// drains HTTP, stops polling, flushes what is pending and joins every
// goroutine before it returns: nothing of the App runs after Run. An App
// whose Run is never called is released with [App.Close]. The store is
// the caller's: App neither opens nor closes it.
//
// What wiring chooses comes in [Deps]: the store (through [Store], the
// methods the service uses, so any implementation of the store contract
// does), the logger, the clock, the transport to origins and WebSub
// callbacks (so tests open no socket), the listener (cmd/aggregator
// listens before New, so a taken port is an error at start), and how to
// read the config again for a reload. Signals are the command's: SIGHUP
// reaches the App through [App.Reload]; the config file watcher is the
// App's own goroutine.
//
// # Files
//
//   - app.go: New, Run, Close, Reload, Handler.
//   - store.go: the Store the service needs.
//   - wire.go: the constructors the commands share with the service (the
//     client to origins, the poller, the membership index, the document
//     cache), so nothing is wired twice.
//   - poll.go: the poll loop, which restarts the poller when a reload
//     changes what is polled, and what each poll result sets off.
//   - reload.go: loading the config again, refusing a bad one, and the
//     file watcher.
//   - prune.go: retention and the trimming of deletions both followers of
//     the write order have seen.
//   - refresh.go: coalescing the re-rendering of changed channels and
//     sources.
//   - admin.go, preview.go, explain.go: what the command line's staff
//     tools compute (Poll, Preview, Explain; the running config's file,
//     load time and last rejected reload for /status), used by the
//     commands on a store they opened and by the /admin routes alike.
//   - lease.go: this run's owner id and the poller's claims on a store
//     shared by instances (store.Leases).
//   - roles.go: the work one instance does for all (the WebSub hub's
//     deliveries, the subscriber's requests), held as roles.
//   - changes.go: the change listener: on each change the store's feed
//     reports (another instance's write), the written sources are read
//     from the write order and set off what a poll result does here.
//   - mail.go, mailstaff.go, mailmetrics.go: the mailing lists: the
//     sign-up service the subscription routes call, the sender loop (a
//     goroutine of Run: claims each due subscriber's send in the store,
//     reads the members after its send log from the membership index,
//     sends through internal/mail over a bounded pool of SMTP sessions),
//     the staff commands' export and erase, and their metrics.
//   - search.go, ready.go, subscribers.go, metrics.go, websub.go: the
//     search index's feed, readiness, the flushing of subscriber
//     statistics, the metrics, the WebSub hub's adapter and the WebSub
//     subscriber's wiring (sources that push, internal/push).
//
// # Where the next features go
//
// It must not parse flags, read the environment, handle signals or open
// the store: those are cmd/aggregator's.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kpolicy/aggregator/internal/config"
	"github.com/kpolicy/aggregator/internal/fetch"
	"github.com/kpolicy/aggregator/internal/membership"
	"github.com/kpolicy/aggregator/internal/metrics"
	"github.com/kpolicy/aggregator/internal/publish"
	"github.com/kpolicy/aggregator/internal/push"
	"github.com/kpolicy/aggregator/internal/search"
	"github.com/kpolicy/aggregator/internal/server"
	"github.com/kpolicy/aggregator/internal/websub"
)

// ShutdownTimeout bounds the drain when Run's context ends: in-flight HTTP
// requests, then the polls in flight.
const ShutdownTimeout = 30 * time.Second

// Deps are what the wiring chooses for the App.
type Deps struct {
	// Store is the open store; the App does not close it. Required.
	Store Store
	// Logger records what the service does; discarded when nil.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Transport, when set, carries every request to origins and to WebSub
	// callbacks (tests: an in-process origin); nil uses the fetch
	// package's own, with its private-address guard.
	Transport http.RoundTripper
	// Listener, when set, is served by Run (through a connection cap
	// from server.* settings) and closed when Run returns; nil serves
	// nothing, and Handler answers requests.
	Listener net.Listener
	// Load reads the config again for a reload: the file and whatever
	// overrides the command line applies. Nil refuses every reload.
	Load func() (config.Config, error)
	// Watch is the config file whose changes request a reload; "" watches
	// nothing (reloads come through Reload only).
	Watch string
	// ConfigFile names the running config's file on /status and in the
	// admin API's answers; "" takes Watch.
	ConfigFile string
	// AdminToken guards /admin/*; "" disables those routes.
	AdminToken string
	// Mail tunes the mailing lists' sender (mail.go); the zero value is
	// the default.
	Mail MailOptions
	// Started, when set, is called once by Run when every loop runs and
	// the config file is watched, before the first request is served.
	Started func()
}

// App is the running service. Create it with New, run it with Run.
type App struct {
	st    Store
	owner string // this run's id among instances sharing the store (lease.go)
	log   *slog.Logger
	now   func() time.Time
	d     Deps

	cfg      atomic.Pointer[config.Config]         // the running config, replaced by reloads
	loaded   atomic.Pointer[time.Time]             // when cfg was loaded
	rejected atomic.Pointer[server.RejectedReload] // the last reload refused since, or nil
	poller   atomic.Pointer[fetch.Poller]          // the poller running now (a reload may replace it), also the admin API's
	hubs     []string                              // ours and the external hubs, as New found them

	members *membership.Index
	cache   *publish.Cache
	hub     *websub.Hub
	push    *push.Subscriber   // the WebSub subscriber: sources that push
	locks   *fetch.SourceLocks // one source's polls, deliveries and subscription updates in turn
	index   *search.Index
	indexer *search.Indexer
	subs    *server.Subscribers
	metrics *metrics.Metrics
	ready   *readiness
	lists   *lists // nil without a mail: block
	handler http.Handler

	roles  roles      // the one-instance work this instance holds (roles.go)
	pushes *refresher // channels whose documents may have changed, for WebSub
	names  *refresher // sources whose state changed, for the names documents give

	reload chan string   // reload requests, coalesced
	prune  chan string   // source ids to prune soon
	sweep  chan struct{} // prune every source soon (after a reload)

	running   atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// New builds the service for cfg: the membership index of every channel
// (read from the store, not built: that is Run's), the document cache,
// the search index (opened; an index it cannot use is an error that says
// to run "aggregator reindex"), subscriber statistics (loaded), metrics,
// the hub and the handler. It logs cfg's warnings. It starts none of the
// service's loops.
func New(cfg config.Config, d Deps) (*App, error) {
	if d.Store == nil {
		return nil, errors.New("app: no store")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	a := &App{st: d.Store, owner: newOwner(), log: d.Logger, now: d.Now, d: d,
		pushes: newRefresher(), names: newRefresher(),
		reload: make(chan string, 1), prune: make(chan string, 64), sweep: make(chan struct{}, 1)}
	a.cfg.Store(&cfg)
	a.roles.hub.Store(a.leases(cfg) == nil) // one process holds every role (roles.go)
	loaded := a.now()
	a.loaded.Store(&loaded)
	a.hubs = hubURLs(cfg)
	for _, w := range cfg.Warnings() {
		a.log.Warn("config", "warning", w)
	}

	// Which items each channel contains: built and followed by Run;
	// Configure only reads index states, so a thousand channels cost
	// nothing before the port listens. The hub is told of every channel
	// whose documents changed.
	// New's reads of the store are few and short: it is not cancelled.
	ctx := context.Background()
	var err error
	a.members, err = NewMembership(ctx, cfg, a.st, membership.Options{
		Logger: a.log,
		Now:    a.now,
		Builds: a.builds(cfg),
		OnChange: func(ids []string) {
			a.cache.Invalidate(ids...)
			a.indexer.Kick() // stories whose channels changed were written again
			for _, id := range ids {
				a.pushes.mark(id)
			}
			a.lists.Kick() // instant lists mail the new members
		},
	})
	if err != nil {
		return nil, err
	}
	if a.lists, err = newLists(ctx, a, d.Mail); err != nil {
		return nil, err
	}
	if err := a.openSearch(cfg); err != nil {
		return nil, err
	}
	a.subs = server.NewSubscribers(a.st, a.now, a.owner)
	if err := a.subs.Load(ctx); err != nil {
		_ = a.index.Close()
		return nil, err
	}
	if a.metrics, err = a.newMetrics(); err != nil {
		_ = a.index.Close()
		return nil, err
	}
	states, err := a.st.States(ctx)
	if err != nil {
		_ = a.index.Close()
		return nil, err
	}
	a.ready = newReadiness(cfg.Sources, states, a.st.LastRev, a.members.Followed)
	a.cache, err = NewCache(cfg, a.members, a.st, publish.Options{
		OnChange: func(id string) {
			if !a.roles.hub.Load() {
				return // another instance delivers (roles.go)
			}
			for _, topic := range topicURLs(cfg.Server.BaseURL, id) {
				if err := a.hub.Publish(topic); err != nil {
					a.log.Error("websub publish", "topic", topic, "err", err)
				}
			}
		},
	})
	if err != nil {
		_ = a.index.Close()
		return nil, err
	}
	a.hub = a.newHub(cfg)
	a.locks = fetch.NewSourceLocks()
	a.poller.Store(a.newPoller(cfg))
	a.push = a.newSubscriber(cfg)
	var backup server.Backuper // optional in the store contract
	if b, ok := a.st.(server.Backuper); ok {
		backup = b
	}
	var lists server.MailLists // a nil *lists would be a non-nil interface
	if a.lists != nil {
		lists = a.lists
	}
	a.handler = server.New(a.cache, a.st, server.Options{
		Logger: a.log, MaxAge: cfg.Publish.MaxAge, BaseURL: cfg.Server.BaseURL, Hubs: a.hubs, WebSub: a.hub,
		Push: a.push, PushCounts: a.push.Counts,
		Sources: a.cache, States: a.st,
		Extras: server.Extras{
			BaseURL:     cfg.Server.BaseURL,
			Items:       a.st,
			Members:     a.members,
			Search:      a.index,
			Subscribers: a.subs,
			Feeds:       a.metrics,
			Metrics:     a.metrics.Handler(),
			Ready:       a.ready.Ready,
			AdminToken:  d.AdminToken,
			Backup:      backup,
			Admin:       adminAPI{a},
			Running:     a.Running,
			Indexing:    a.indexer.State,
			Lists:       lists,
			MailStatus:  a.lists.Status,
			MailAdmin:   adminAPI{a},
		},
	})
	return a, nil
}

// Handler serves every route: the documents, pages, search, status,
// metrics, the hub. It answers before Run too (channels whose index is not
// built answer 503), and after Run from what the store holds.
func (a *App) Handler() http.Handler { return a.handler }

// Config returns the running config: the one given to New, or the last
// reload accepted.
func (a *App) Config() config.Config { return *a.cfg.Load() }

// Reload asks Run to read the config again (through Deps.Load) and, when
// the new one is fit, to serve it; why says what asked, for the log. It
// never blocks: requests made while one is pending merge into it.
func (a *App) Reload(why string) {
	select {
	case a.reload <- why:
	default:
	}
}

// Run starts every loop of the service, serves Deps.Listener (when set)
// and, once ctx ends, shuts down: HTTP first (in-flight requests get
// ShutdownTimeout), then polling and the background indexes (the polls in
// flight finish), then one last flush of subscriber statistics and of the
// channels waiting to be re-rendered, then the hub and the search index.
// It returns when every goroutine it started has ended, with the error
// that stopped serving (nil after ctx ended) joined with any shutdown
// failure. Run may be called once.
func (a *App) Run(ctx context.Context) (err error) {
	if !a.running.CompareAndSwap(false, true) {
		return errors.New("app: Run called twice")
	}
	// The loops stop once HTTP is drained, the re-renderers after them
	// (they flush what the last polls marked).
	loopCtx, stopLoops := context.WithCancel(context.WithoutCancel(ctx))
	refreshCtx, stopRefresh := context.WithCancel(context.WithoutCancel(ctx))
	var wg, rwg sync.WaitGroup
	defer func() {
		stopLoops()
		wg.Wait()
		stopRefresh()
		rwg.Wait()
		err = errors.Join(err, a.Close())
	}()

	rwg.Go(func() {
		a.pushes.run(refreshCtx, func(ids ...string) error {
			ids, err := a.subscribed(refreshCtx, ids)
			if err != nil || len(ids) == 0 {
				return err
			}
			return a.cache.Refresh(ids...)
		}, a.log)
	})
	rwg.Go(func() { a.names.run(refreshCtx, a.cache.InvalidateSources, a.log) })
	if a.d.Watch != "" {
		if err := a.watchConfig(loopCtx, &wg); err != nil {
			a.log.Warn("not watching the config file; reload with SIGHUP", "err", err)
		}
	}
	wg.Go(func() { a.pollLoop(loopCtx) })
	wg.Go(func() { a.maintain(loopCtx) })
	wg.Go(func() { a.members.Run(loopCtx) })
	wg.Go(func() { a.indexer.Run(loopCtx) })
	wg.Go(func() { a.flushLoop(loopCtx) })
	wg.Go(func() { a.roleLoop(loopCtx) }) // the WebSub subscriber runs on the instance holding its role
	wg.Go(func() { a.lists.run(loopCtx) })
	wg.Go(func() { a.followChanges(loopCtx, a.st) })
	if a.d.Started != nil {
		a.d.Started()
	}
	return a.serve(ctx)
}

// serve serves Deps.Listener until ctx ends or serving fails, then shuts
// the server down, or, without a listener, waits for ctx.
func (a *App) serve(ctx context.Context) error {
	if a.d.Listener == nil {
		<-ctx.Done()
		a.log.Info("shutting down")
		return nil
	}
	cfg := a.Config()
	// Past the cap, idle keep-alives are closed (oldest first) and then
	// connections wait in the kernel's backlog; one client gets at most its
	// share: idle or slow clients can neither use up the process's file
	// descriptors nor keep a new client out.
	ln := server.NewListener(a.d.Listener, server.ListenerOptions{Max: cfg.Server.Connections(), PerClient: cfg.Server.ConnectionsPerIP()})
	// The whole request, like its header, within 10 s: equal deadlines are
	// one timer update a request fewer (net/http sets the second only when
	// they differ; 1.5% of a 304 under load). The handlers that take a
	// large body (admin preview, push callback) give it more themselves
	// (http.ResponseController).
	srv := &http.Server{
		ConnState:         ln.ConnState,
		ConnContext:       ln.ConnContext,
		Handler:           a.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.d.Logger.Handler(), slog.LevelWarn), // net/http's own lines, in the log's format
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	var err error
	served := false
	select {
	case err = <-serveErr:
		served = true
	case <-ctx.Done():
	}
	a.log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	if serr := srv.Shutdown(shutdownCtx); serr != nil {
		err = errors.Join(err, fmt.Errorf("shutdown: %w", serr))
		_ = srv.Close() // the requests still running lose their connections
	}
	if !served {
		<-serveErr // http.ErrServerClosed, once Shutdown closed the listener
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// Close releases what New opened (the hub's workers, the search index)
// and closes Deps.Listener if Run did not serve it. Run calls it on
// return; it is for an App whose Run is never called, and is safe to call
// more than once.
func (a *App) Close() error {
	a.closeOnce.Do(func() {
		a.hub.Close()
		a.closeErr = a.index.Close()
		if a.d.Listener != nil && !a.running.Load() {
			_ = a.d.Listener.Close()
		}
	})
	return a.closeErr
}
