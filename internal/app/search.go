package app

import (
	"context"
	"fmt"

	"github.com/kpolicy/aggregator/internal/config"
	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/membership"
	"github.com/kpolicy/aggregator/internal/search"
)

// SearchPath is where this instance's search index lives: storage.search,
// or beside a bbolt file, or config.DefaultSearchPath for a PostgreSQL URL.
func SearchPath(s config.Storage) string {
	switch {
	case s.Search != "":
		return s.Search
	case s.IsPostgres():
		return config.DefaultSearchPath
	}
	return s.Path + ".search"
}

// searchSource is what the search index reads from the store: the write
// order, how far it goes, and the index's bookmark in it.
type searchSource interface {
	ItemsSince(ctx context.Context, rev uint64, limit int) ([]feed.Item, error)
	LastRev(ctx context.Context) (uint64, error)
	IndexedRev(ctx context.Context) (uint64, error)
	SetIndexedRev(ctx context.Context, rev uint64) error
}

// labeller says under which channel labels an item is published, and up
// to which write it knows (see membership.Index.LabelsOf and Followed).
type labeller interface {
	LabelsOf(context.Context, feed.Item) ([]string, error)
	Followed(context.Context) (uint64, error)
}

// searchStore is what the search index is fed from: the store, and the
// channels each item is published in, by label.
type searchStore struct {
	searchSource
	published labeller
}

func (s searchStore) ChannelsOf(ctx context.Context, it feed.Item) ([]string, error) {
	return s.published.LabelsOf(ctx, it)
}

func (s searchStore) Judged(ctx context.Context) (uint64, error) { return s.published.Followed(ctx) }

// openSearch opens the search index beside the database and its indexer.
func (a *App) openSearch(cfg config.Config) error {
	st := searchStore{a.st, a.members}
	ix, err := search.Open(SearchPath(cfg.Storage), st)
	if err != nil {
		return fmt.Errorf("%w (rebuild it with: aggregator reindex)", err)
	}
	a.index = ix
	a.indexer = search.NewIndexer(ix, st, a.log)
	return nil
}

// Reindex deletes the search index of cfg's database and builds it again
// from every item st holds, filed under the channels that publish it as
// their membership indexes stand (serve builds what is missing, and
// indexes the stories it adds then). It returns the items indexed.
func Reindex(ctx context.Context, cfg config.Config, st interface {
	searchSource
	membership.Store
}) (int, error) {
	members, err := NewMembership(ctx, cfg, st, membership.Options{})
	if err != nil {
		return 0, err
	}
	ix, n, err := search.Rebuild(ctx, SearchPath(cfg.Storage), searchStore{st, members})
	if err != nil {
		return 0, err
	}
	return n, ix.Close()
}
