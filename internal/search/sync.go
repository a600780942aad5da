package search

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/blevesearch/bleve/v2"

	"github.com/kpolicy/aggregator/internal/feed"
)

// Store is what the index is fed from: the store's write order and the
// number of the last write the index holds, and where each item is
// published.
type Store interface {
	ItemsSince(ctx context.Context, seq uint64, limit int) ([]feed.Item, error)
	// LastRev returns the Rev of the store's latest write.
	LastRev(ctx context.Context) (uint64, error)
	IndexedRev(ctx context.Context) (uint64, error)
	SetIndexedRev(ctx context.Context, seq uint64) error
	// ChannelsOf returns the channels that publish the item, as the
	// labels a query names them by (channels defined alike may share
	// one); an item in none is not published, and is not indexed.
	ChannelsOf(ctx context.Context, it feed.Item) ([]string, error)
	// Judged returns the Rev up to which ChannelsOf knows the store's
	// writes: Sync indexes no write past it, so that an item is never
	// indexed before its channels are known.
	Judged(ctx context.Context) (uint64, error)
}

// syncBatch is the number of items indexed and recorded at a time: a crash
// loses at most one batch of work, which the next Sync redoes.
const syncBatch = 100

// Sync indexes every item written since the last Sync of this index (or
// since the store was new) and judged (Store.Judged), a batch at a time.
// It returns the number of items indexed. Cancelling ctx stops it between
// batches, with what was done recorded.
//
// The index keeps its own bookmark (the last Rev it holds), written in
// the same bleve batch as the items, so that it is never ahead of or
// behind what the index holds, whatever crashes. Several instances on one
// shared store each keep their own index: a bookmark in the store would
// be one for all of them, and an index that trusted another's would skip
// what it never held. The store's IndexedRev is still written after each
// batch (the deletions it has seen may be trimmed: see Store), and read
// once, for an index written before it kept a bookmark.
func (ix *Index) Sync(ctx context.Context, st Store) (int, error) {
	// After a failed write the open index may hold, in memory, the
	// bookmark of the batch that failed: read it from what was persisted.
	if err := ix.reopenIfBroken(); err != nil {
		return 0, fmt.Errorf("sync search index: %w", err)
	}
	seq, ok, err := ix.Indexed()
	if err == nil && !ok {
		seq, err = st.IndexedRev(ctx)
	}
	if err != nil {
		return 0, fmt.Errorf("sync search index: %w", err)
	}
	judged, err := st.Judged(ctx)
	if err != nil {
		return 0, fmt.Errorf("sync search index: %w", err)
	}
	channelsOf := func(it feed.Item) ([]string, error) { return st.ChannelsOf(ctx, it) }
	n := 0
	for ctx.Err() == nil {
		items, err := st.ItemsSince(ctx, seq, syncBatch)
		if err != nil {
			return n, fmt.Errorf("sync search index: %w", err)
		}
		for i, it := range items {
			if it.Rev > judged {
				items = items[:i] // the rest after the membership index judged them
				break
			}
		}
		if len(items) == 0 {
			if n >= compactAfter {
				if err := ix.compact(ctx); err != nil {
					return n, fmt.Errorf("sync search index: %w", err)
				}
			}
			return n, nil
		}
		seq = items[len(items)-1].Rev
		if err := ix.write(func(b *bleve.Batch) error {
			b.SetInternal([]byte(bookmarkKey), binary.BigEndian.AppendUint64(nil, seq))
			return fill(b, items, channelsOf)
		}); err != nil {
			return n, fmt.Errorf("sync search index: %w", err)
		}
		if err := st.SetIndexedRev(ctx, seq); err != nil {
			return n, fmt.Errorf("sync search index: %w", err)
		}
		n += len(items)
	}
	return n, fmt.Errorf("sync search index: %w", ctx.Err())
}

// bookmarkKey names the index's bookmark among bleve's internal values.
const bookmarkKey = "aggregator-indexed-rev"

// Indexed returns the last Rev of the store's write order this index
// holds; ok is false for an index that keeps no bookmark (written before
// it did).
func (ix *Index) Indexed() (rev uint64, ok bool, err error) {
	b, done, err := ix.read()
	if err != nil {
		return 0, false, err
	}
	defer done()
	v, err := b.GetInternal([]byte(bookmarkKey))
	if err != nil {
		return 0, false, fmt.Errorf("search index bookmark: %w", err)
	}
	if len(v) != 8 {
		return 0, false, nil
	}
	return binary.BigEndian.Uint64(v), true, nil
}

// Rebuild deletes the index in dir and indexes every stored item again.
// Nothing else may have the index open.
func Rebuild(ctx context.Context, dir string, st Store) (*Index, int, error) {
	if err := Remove(dir); err != nil {
		return nil, 0, err
	}
	if err := st.SetIndexedRev(ctx, 0); err != nil {
		return nil, 0, fmt.Errorf("rebuild search index: %w", err)
	}
	ix, err := Open(dir, st)
	if err != nil {
		return nil, 0, err
	}
	n, err := ix.Sync(ctx, st)
	if err != nil {
		_ = ix.Close()
		return nil, n, err
	}
	return ix, n, nil
}
