package bolt

import (
	"bytes"
	"container/heap"
	"context"
	"encoding/binary"
	"fmt"
	"slices"

	"go.etcd.io/bbolt"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store/record"
	"github.com/kpolicy/aggregator/internal/story"
)

// ItemsAfter is store.Polls.ItemsAfter. It walks one cursor per source over
// the bytime index and merges them with a heap, so it reads about
// limit·log(len(sourceIDs)) entries however large the store is, in one
// short read transaction.
func (db *DB) ItemsAfter(ctx context.Context, sourceIDs []string, after *feed.Item, limit int) ([]feed.Item, error) {
	out, err := db.walk(ctx, sourceIDs, after, limit)
	switch {
	case err != nil && after != nil:
		return nil, fmt.Errorf("items after %s %s: %w", after.SourceID, after.Key, err)
	case err != nil:
		return nil, fmt.Errorf("items: %w", err)
	}
	return out, nil
}

// walk is ItemsAfter: it merges one cursor per source over the bytime
// index, from the top or from just after after, and returns up to limit
// stories, each once (a story's merged copies have entries in their own
// sources too).
func (db *DB) walk(ctx context.Context, sourceIDs []string, after *feed.Item, limit int) ([]feed.Item, error) {
	if limit <= 0 || len(sourceIDs) == 0 {
		return nil, nil
	}
	ids := slices.Clone(sourceIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	var stamp [8]byte
	var next []byte
	if after != nil {
		binary.BigEndian.PutUint64(stamp[:], record.SortStamp(storableItem(*after).Sort()))
		next = stampAfter(stamp)
	}

	var out []feed.Item
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		items, index, aliases := tx.Bucket(bucketItems), tx.Bucket(bucketByTime), tx.Bucket(bucketAliases)
		seen := map[story.Ref]bool{}
		h := make(cursorHeap, 0, len(ids))
		for _, id := range ids {
			ib, tb := items.Bucket([]byte(id)), index.Bucket([]byte(id))
			if ib == nil || tb == nil {
				continue
			}
			c := tb.Cursor()
			var k []byte
			switch {
			case after == nil:
				k, _ = c.First()
			case id < after.SourceID: // equal stamps of this source come before after
				if next == nil {
					continue
				}
				k, _ = c.Seek(next)
			case id > after.SourceID: // equal stamps of this source come after it
				k, _ = c.Seek(stamp[:])
			default:
				seek := append(stamp[:], after.Key...)
				k, _ = c.Seek(seek)
				if k != nil && bytes.Equal(k, seek) {
					k, _ = c.Next()
				}
			}
			if k == nil {
				continue
			}
			if !validIndexKey(k) {
				return fmt.Errorf("source %q: bad index key %s", id, clip(k))
			}
			h = append(h, &sourceCursor{id: id, items: ib, cursor: c, key: k})
		}
		heap.Init(&h)
		out = make([]feed.Item, 0, min(limit, 64))
		for len(h) > 0 && len(out) < limit {
			sc := h[0]
			it, ok, err := storyAt(items, aliases, sc, sc.key[8:])
			if err != nil {
				return err
			}
			if r := (story.Ref{SourceID: it.SourceID, Key: it.Key}); ok && !seen[r] {
				seen[r] = true
				out = append(out, it)
			}
			sc.key, _ = sc.cursor.Next()
			switch {
			case sc.key == nil:
				heap.Pop(&h)
			case !validIndexKey(sc.key):
				return fmt.Errorf("source %q: bad index key %s", sc.id, clip(sc.key))
			default:
				heap.Fix(&h, 0)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// stampAfter returns the smallest 8-byte prefix greater than stamp, nil
// when stamp is the largest.
func stampAfter(stamp [8]byte) []byte {
	n := binary.BigEndian.Uint64(stamp[:])
	if n == ^uint64(0) {
		return nil
	}
	return binary.BigEndian.AppendUint64(nil, n+1)
}
