package app

import (
	"context"
	"fmt"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/kpolicy/aggregator/internal/config"
	"github.com/kpolicy/aggregator/internal/fetch"
	"github.com/kpolicy/aggregator/internal/membership"
	"github.com/kpolicy/aggregator/internal/parse"
	"github.com/kpolicy/aggregator/internal/publish"
)

// The constructors below are the one place each part is built from the
// config: the service uses them, and so do the commands that poll, preview
// or reindex without it.

// Version is the module version when built from a tagged module, else
// "dev". It is in the User-Agent and the "listening" line.
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// NewClient is the client to origins for cfg: its User-Agent, timeout,
// body limit and private-network rule. Commands that fetch a page for a
// person (discover, preview-source) use it too, so they see what a poll
// sees. tr, when not nil, carries the requests (tests).
func NewClient(cfg config.Config, tr http.RoundTripper) *fetch.Client {
	return fetch.NewClient(fetch.Options{
		UserAgent:    cfg.Fetch.UserAgentString(Version()),
		Timeout:      cfg.Fetch.Timeout,
		MaxBody:      cfg.Fetch.MaxBody,
		AllowPrivate: cfg.Fetch.AllowPrivateNetworks,
		Transport:    tr,
	})
}

// NewPoller wires c to the parser and st with cfg's fetch settings.
// onResult is called after every poll (nil: nothing); now is the clock
// (nil: time.Now). On a store several instances share (PostgreSQL), its
// polls claim their sources' leases as an instance's do, under an owner of
// their own, so `aggregator fetch` beside running instances never polls a
// source or a host beside them.
func NewPoller(cfg config.Config, c *fetch.Client, st fetch.Store, onResult func(fetch.Result), now func() time.Time) *fetch.Poller {
	return newPoller(cfg, c, st, onResult, now, nil, claimsOf(cfg, st, newOwner()))
}

// newPoller is NewPoller with the source locks it shares (nil: its own)
// and the claims that share polling with other instances (nil: none).
func newPoller(cfg config.Config, c *fetch.Client, st fetch.Store, onResult func(fetch.Result), now func() time.Time, locks *fetch.SourceLocks, claims fetch.Claims) *fetch.Poller {
	return fetch.NewPoller(c, parse.New(), st, fetch.PollerOptions{
		Claims:      claims,
		Lease:       cfg.Fetch.Lease,
		Locks:       locks,
		Concurrency: cfg.Fetch.Concurrency,
		Now:         now,
		OnResult:    onResult,
		MaxInterval: cfg.Fetch.MaxInterval,
		HostGap:     cfg.Fetch.HostGap,
		Adaptive:    cfg.Fetch.Adaptive,
		HideFuture:  cfg.Fetch.FutureDates == config.FutureHide,
	})
}

// NewMembership is the membership index of cfg's channels over st,
// configured (index states read, nothing built: its Run builds and
// follows them). o's PageSize is cfg's.
func NewMembership(ctx context.Context, cfg config.Config, st membership.Store, o membership.Options) (*membership.Index, error) {
	o.PageSize = cfg.Publish.PageSize
	ix := membership.New(st, o)
	if err := ix.Configure(ctx, cfg.Channels, cfg.Sources); err != nil {
		return nil, fmt.Errorf("channels: %w", err)
	}
	return ix, nil
}

// NewCache is the rendered documents of cfg's channels, read from m and
// naming sources from states, configured; o's page size, byte bound and
// hubs are cfg's.
func NewCache(cfg config.Config, m publish.Members, states publish.States, o publish.Options) (*publish.Cache, error) {
	o.PageSize, o.MaxBytes, o.Hubs = cfg.Publish.PageSize, cfg.Publish.CacheSize, hubURLs(cfg)
	c := publish.NewCache(m, states, cfg.Server.BaseURL, o)
	if err := c.Configure(cfg.Channels, cfg.Sources); err != nil {
		return nil, fmt.Errorf("channels: %w", err)
	}
	c.SetSite(cfg.Site)
	return c, nil
}
