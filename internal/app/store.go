package app

import (
	"context"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/fetch"
	"github.com/kpolicy/aggregator/internal/membership"
	"github.com/kpolicy/aggregator/internal/publish"
	"github.com/kpolicy/aggregator/internal/server"
	"github.com/kpolicy/aggregator/internal/store"
	"github.com/kpolicy/aggregator/internal/websub"
)

// Store is what the service needs of the store: what each part it wires
// asks for (the poller, the membership index, the documents, the hub,
// subscriber statistics, the pages), the search index's bookmark, and
// what maintenance and the metrics call. Any implementation of the store
// contract (store.Store) satisfies it. A backup while serving
// (/admin/backup) is the optional store.Backuper: for a Store that is not
// one, that route is not served.
type Store interface {
	fetch.Store
	membership.Store
	publish.States
	websub.Store
	server.SubscriberStore
	server.Health
	searchSource
	store.Lists // the mailing lists (mail.go)
	changeStore

	// Prune deletes the items of sourceID that keep does not retain, in
	// small transactions.
	Prune(ctx context.Context, sourceID string, keep feed.Retention, now time.Time) (store.PruneResult, error)
	// TrimGone forgets the deletions up to the write upTo, which every
	// follower of the write order has seen.
	TrimGone(ctx context.Context, upTo uint64) (int, error)
	// Locate finds the stored copies an item query names, for the admin
	// API's explain.
	Locate(ctx context.Context, q string) ([]store.Found, error)
	// Size and Count are the database's bytes and stored items, for the
	// metrics.
	Size(ctx context.Context) (int64, error)
	Count(ctx context.Context) (int, error)
}
