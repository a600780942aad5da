package store

import (
	"bytes"
	"container/heap"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"

	"go.etcd.io/bbolt"

	"github.com/kpolicy/aggregator/internal/feed"
)

// maxKeyLen keeps an item key plus its 8-byte index prefix within bbolt's
// key limit (32KiB).
const maxKeyLen = bbolt.MaxKeySize - 8

// SavePoll stores the items of one successful parse of sourceID and the
// source's new state, in one write transaction: either all of it is stored
// or none. For each item, identified by sourceID and Key:
//
//   - a new item gets FirstSeen = now; an undated one (Dated false) gets
//     Published = FirstSeen; Updated is raised to Published when zero or
//     earlier. It counts as New.
//   - a stored item whose content is the same ([feed.SameContent]) is not
//     written at all, even if its Updated date moved. It counts as Unchanged.
//   - a stored item whose content changed is replaced, keeping the stored
//     FirstSeen, Published and Dated; Updated becomes the item's Updated if
//     that is after the stored one, else now. It counts as Updated.
//
// An item whose key has a tombstone (it was pruned, see [DB.Prune]) is not
// stored again and counts as Unchanged.
//
// An item key that occurs twice in items is stored once; the later
// occurrence is compared with the earlier. state.SourceID is set to
// sourceID and state.Items to the number of items stored for the source.
// It returns feed.EINVALID errors for an empty source id, an item of
// another source, or an empty or over-long item key.
func (db *DB) SavePoll(sourceID string, items []feed.Item, state feed.SourceState) (feed.PollCounts, error) {
	var counts feed.PollCounts
	if err := validSourceID(sourceID, state.SourceID); err != nil {
		return counts, fmt.Errorf("save poll %s: %w", sourceID, err)
	}
	for _, it := range items {
		if it.SourceID != "" && it.SourceID != sourceID {
			return counts, fmt.Errorf("save poll %s: %w", sourceID,
				feed.Errorf(feed.EINVALID, "item %q belongs to source %q", it.Key, it.SourceID))
		}
		if it.Key == "" || len(it.Key) > maxKeyLen {
			return counts, fmt.Errorf("save poll %s: %w", sourceID,
				feed.Errorf(feed.EINVALID, "item key must be 1 to %d bytes (got %d)", maxKeyLen, len(it.Key)))
		}
	}
	now := jsonTime(db.now())
	id := []byte(sourceID)
	err := db.update(func(tx *bbolt.Tx) error {
		ib, err := tx.Bucket(bucketItems).CreateBucketIfNotExists(id)
		if err != nil {
			return err
		}
		tb, err := tx.Bucket(bucketByTime).CreateBucketIfNotExists(id)
		if err != nil {
			return err
		}
		n := ib.Sequence()
		graves := tombstones(tx, id)
		for _, it := range items {
			if buried(graves, []byte(it.Key)) { // pruned: see prune.go
				counts.Unchanged++
				continue
			}
			it = storableItem(it)
			it.SourceID = sourceID
			key := []byte(it.Key)
			stored := ib.Get(key)
			if stored == nil {
				it.FirstSeen = now
				if !it.Dated {
					it.Published = it.FirstSeen
				}
				if it.Updated.IsZero() || it.Updated.Before(it.Published) {
					it.Updated = it.Published
				}
				if it.Seq, err = nextSeq(tx, sourceID, it.Key); err != nil {
					return err
				}
				if it.Rev, err = nextRev(tx, it, 0); err != nil {
					return err
				}
				if err := putItem(ib, tb, it, nil); err != nil {
					return err
				}
				n++
				counts.New++
				continue
			}
			old, err := decodeItem(sourceID, it.Key, stored)
			if err != nil {
				return fmt.Errorf("item %q: %w", it.Key, err)
			}
			if feed.SameContent(old, it) {
				counts.Unchanged++
				continue
			}
			it.FirstSeen, it.Published, it.Dated = old.FirstSeen, old.Published, old.Dated
			it.Seq = old.Seq
			if !it.Updated.After(old.Updated) {
				it.Updated = now
			}
			if it.Rev, err = nextRev(tx, it, old.Rev); err != nil {
				return err
			}
			if err := putItem(ib, tb, it, indexKey(old)); err != nil {
				return err
			}
			counts.Updated++
		}
		if err := ib.SetSequence(n); err != nil {
			return err
		}
		state.SourceID, state.Items = sourceID, int(n)
		return putState(tx, state)
	})
	if err != nil {
		return feed.PollCounts{}, fmt.Errorf("save poll %s: %w", sourceID, err)
	}
	return counts, nil
}

// putItem writes it and its index entry, removing oldIndex first when the
// item had one under another sort time.
func putItem(ib, tb *bbolt.Bucket, it feed.Item, oldIndex []byte) error {
	v, err := encodeItem(it)
	if err != nil {
		return fmt.Errorf("item %q: %w", it.Key, err)
	}
	if err := ib.Put([]byte(it.Key), v); err != nil {
		return fmt.Errorf("item %q: %w", it.Key, err)
	}
	newIndex := indexKey(it)
	if oldIndex != nil && !bytes.Equal(oldIndex, newIndex) {
		if err := tb.Delete(oldIndex); err != nil {
			return fmt.Errorf("item %q: %w", it.Key, err)
		}
	}
	if err := tb.Put(newIndex, nil); err != nil {
		return fmt.Errorf("item %q: %w", it.Key, err)
	}
	return nil
}

// Item returns the stored item of sourceID under key, or a feed.ENOTFOUND
// error.
func (db *DB) Item(sourceID, key string) (feed.Item, error) {
	var it feed.Item
	err := db.view(func(tx *bbolt.Tx) error {
		var v []byte
		if b := tx.Bucket(bucketItems).Bucket([]byte(sourceID)); b != nil {
			v = b.Get([]byte(key))
		}
		if v == nil {
			return feed.Errorf(feed.ENOTFOUND, "source %q has no item %q", sourceID, key)
		}
		var err error
		it, err = decodeItem(sourceID, key, v)
		return err
	})
	if err != nil {
		return feed.Item{}, fmt.Errorf("item %s %s: %w", sourceID, key, err)
	}
	return it, nil
}

// Items returns the newest limit items of the given sources, newest first by
// [feed.Item.Sort]; equal times order by source id, then key. Unknown source
// ids and repeated ones are ignored; limit <= 0 returns none.
//
// It walks one cursor per source over the bytime index and merges them with
// a heap, so it reads about limit·log(len(sourceIDs)) entries however large
// the store is.
func (db *DB) Items(sourceIDs []string, limit int) ([]feed.Item, error) {
	if limit <= 0 || len(sourceIDs) == 0 {
		return nil, nil
	}
	ids := slices.Clone(sourceIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)

	var out []feed.Item
	err := db.view(func(tx *bbolt.Tx) error {
		items, index := tx.Bucket(bucketItems), tx.Bucket(bucketByTime)
		h := make(cursorHeap, 0, len(ids))
		for _, id := range ids {
			ib, tb := items.Bucket([]byte(id)), index.Bucket([]byte(id))
			if ib == nil || tb == nil {
				continue
			}
			c := tb.Cursor()
			k, _ := c.First()
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
			key := sc.key[8:]
			v := sc.items.Get(key)
			if v == nil {
				return fmt.Errorf("source %q: index names missing item %s", sc.id, clip(key))
			}
			it, err := decodeItem(sc.id, string(key), v)
			if err != nil {
				return fmt.Errorf("source %q item %s: %w", sc.id, clip(key), err)
			}
			out = append(out, it)
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
		return nil, fmt.Errorf("items: %w", err)
	}
	return out, nil
}

// validIndexKey reports whether k can be a bytime key: a sort stamp and a
// key of a length SavePoll accepts. A damaged page can yield any length.
func validIndexKey(k []byte) bool { return len(k) > 8 && len(k) <= 8+maxKeyLen }

// clip quotes a key read from the file for an error message, cut short: a
// damaged page can make a key gigabytes long.
func clip(b []byte) string {
	const n = 80
	if len(b) <= n {
		return strconv.Quote(string(b))
	}
	return fmt.Sprintf("%q… (%d bytes)", b[:n], len(b))
}

// sourceCursor is one source's position in its bytime index during Items.
// key is only valid inside the transaction.
type sourceCursor struct {
	id     string
	items  *bbolt.Bucket
	cursor *bbolt.Cursor
	key    []byte
}

// cursorHeap orders cursors by their current index key: sort stamp (newest
// first, as stamps are inverted), then source id, then item key.
type cursorHeap []*sourceCursor

func (h cursorHeap) Len() int { return len(h) }
func (h cursorHeap) Less(i, j int) bool {
	a, b := h[i], h[j]
	sa, sb := binary.BigEndian.Uint64(a.key), binary.BigEndian.Uint64(b.key)
	if sa != sb {
		return sa < sb
	}
	if a.id != b.id {
		return a.id < b.id
	}
	return bytes.Compare(a.key[8:], b.key[8:]) < 0
}
func (h cursorHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *cursorHeap) Push(x any)   { *h = append(*h, x.(*sourceCursor)) }
func (h *cursorHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return x
}

// Count returns the number of items stored over all sources.
func (db *DB) Count() (int, error) {
	var n uint64
	err := db.view(func(tx *bbolt.Tx) error {
		items := tx.Bucket(bucketItems)
		return items.ForEachBucket(func(id []byte) error {
			n += items.Bucket(id).Sequence()
			return nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("count: %w", err)
	}
	return int(n), nil
}

// SourceItemCount returns the number of items stored for sourceID; 0 for a
// source never saved.
func (db *DB) SourceItemCount(sourceID string) (int, error) {
	var n uint64
	err := db.view(func(tx *bbolt.Tx) error {
		if b := tx.Bucket(bucketItems).Bucket([]byte(sourceID)); b != nil {
			n = b.Sequence()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", sourceID, err)
	}
	return int(n), nil
}
