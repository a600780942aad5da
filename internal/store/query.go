package store

import (
	"bytes"
	"container/heap"
	"encoding/binary"
	"fmt"
	"slices"

	"go.etcd.io/bbolt"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/story"
)

// ItemsAfter returns up to limit items of the given sources that come after
// the item after in the order of [DB.Items] (newest first by
// [feed.Item.Sort], then source id, then key); with after nil it is Items.
// after need not be stored any more: only its source id, key and sort time
// are used. Calling it again with the last item returned pages through a
// channel in bounded read transactions, so a caller that filters items can
// read just as many as it needs.
func (db *DB) ItemsAfter(sourceIDs []string, after *feed.Item, limit int) ([]feed.Item, error) {
	out, err := db.walk(sourceIDs, after, limit)
	if err != nil && after != nil {
		return nil, fmt.Errorf("items after %s %s: %w", after.SourceID, after.Key, err)
	}
	return out, err
}

// walk is Items and ItemsAfter: it merges one cursor per source over the
// bytime index, from the top or from just after after, and returns up to
// limit stories, each once (a story's merged copies have entries in their
// own sources too).
func (db *DB) walk(sourceIDs []string, after *feed.Item, limit int) ([]feed.Item, error) {
	if limit <= 0 || len(sourceIDs) == 0 {
		return nil, nil
	}
	ids := slices.Clone(sourceIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	var stamp [8]byte
	var next []byte
	if after != nil {
		binary.BigEndian.PutUint64(stamp[:], sortStamp(storableItem(*after).Sort()))
		next = stampAfter(stamp)
	}

	var out []feed.Item
	err := db.view(func(tx *bbolt.Tx) error {
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
