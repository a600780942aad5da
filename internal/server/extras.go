package server

import (
	"context"
	"io"
	"net/http"

	"github.com/microcosm-cc/bluemonday"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/membership"
	"github.com/kpolicy/aggregator/internal/parse"
	"github.com/kpolicy/aggregator/internal/search"
)

// Items is what the item pages and search results read from the store.
type Items interface {
	// Item returns a stored item, or a feed.ENOTFOUND error.
	Item(ctx context.Context, sourceID, key string) (feed.Item, error)
}

// Members is what the HTML pages, the item pages and search read from the
// membership index: which items a channel shows, in its order, and which
// channels show an item.
type Members interface {
	Older(ctx context.Context, channelID string, after *membership.Cursor, n int) (membership.Page, error)
	Newer(ctx context.Context, channelID string, before membership.Cursor, n int) (membership.Page, error)
	Skip(ctx context.Context, channelID string, skip, n int) (membership.Page, error)
	ChannelsOf(ctx context.Context, it feed.Item) ([]string, error)
	// Withdrawn reports whether a hide took the item out: its page is
	// then gone (410), not unknown (404).
	Withdrawn(it feed.Item) bool
	// Label is what the search index files a channel's items under.
	Label(channelID string) string
	// Followed is the store's write order (Rev) up to which every index is
	// current: when it has not moved, nothing the indexes list has.
	Followed(ctx context.Context) (uint64, error)
}

// Searcher is the full-text index.
type Searcher interface {
	Search(ctx context.Context, q search.Query) (search.Result, error)
	Count() (uint64, error)
	// Sources returns the ids of the sources with an item in the index.
	Sources() ([]string, error)
}

// Backuper writes a consistent copy of the database (store.Backuper).
type Backuper interface {
	Backup(ctx context.Context, w io.Writer) (int64, error)
}

// FeedRecorder counts requests for published feeds (the metrics).
type FeedRecorder interface {
	Output(channel, format string, status int)
}

// Extras are the server's optional collaborators, set by the command that
// wires it.
type Extras struct {
	BaseURL     string       // public address, for the OpenSearch document; "" → taken from the request
	Items       Items        // item pages, search results
	Members     Members      // channel pages, the index's previews, item pages, search; nil → those 404
	Search      Searcher     // /search; nil → 503
	Subscribers *Subscribers // subscriber statistics; nil → not counted
	Feeds       FeedRecorder // metrics of feed requests; nil → not counted
	Metrics     http.Handler // GET /metrics; nil → 404
	// Ready reports whether the program is ready for traffic (store open,
	// config loaded, first poll done); nil means ready.
	Ready func() error
	// AdminToken guards /admin/*: requests must carry "Authorization:
	// Bearer TOKEN". Empty disables the admin routes (404).
	AdminToken string
	Backup     Backuper
	// Admin answers the /admin routes of the command line (poll now,
	// preview, explain); nil → those 404.
	Admin Admin
	// Running describes the running config on GET /status and GET
	// /admin/status; nil shows nothing of it.
	Running func() ConfigStatus
	// Indexing reports the search indexer's failures on GET /status; nil
	// shows nothing.
	Indexing func() search.IndexerState
	// Lists answers the mailing-list routes (sign-up, confirm,
	// unsubscribe, manage); nil → those 404 and pages show no sign-up form.
	Lists MailLists
	// MailStatus gives GET /status each mailing list's counts and sender
	// state; nil shows none.
	MailStatus func(ctx context.Context) ([]MailListStatus, error)
	// MailAdmin answers /admin/mail/*; nil → those 404.
	MailAdmin MailAdmin
}

// extras is Extras plus what the server builds from them once.
type extras struct {
	Extras
	// policy sanitises item HTML again at render: it was sanitised at
	// ingest, but the store is not trusted to hold only what parse wrote.
	policy *bluemonday.Policy
}

func newExtras(e Extras) extras {
	return extras{Extras: e, policy: parse.PagePolicy()}
}
