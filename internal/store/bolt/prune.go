package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/bbolt"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
	"github.com/kpolicy/aggregator/internal/story"
)

// Retention is kept apart from the items:
//
//	tombstones / <source id> / <item key> → 8-byte big-endian Unix seconds when pruned
//
// The bucket is created by the first prune, so older files need no
// migration. SavePoll skips an item whose key has a tombstone, so an item
// pruned while it is still in the upstream feed is not stored again.

var bucketTombstones = []byte("tombstones")

// Prune deletes the items of sourceID that keep does not retain: beyond
// the newest keep.Items (when > 0) and published more than keep.Days days
// before now (when > 0), oldest first by [feed.Item.Sort]. It works in
// write transactions of at most store.PruneBatch deletions, leaves a tombstone
// for each deleted item, keeps the source's item count and saved state in
// step, and trims the source's tombstones to store.MaxTombstones. A source with
// no items is not an error.
func (db *DB) Prune(ctx context.Context, sourceID string, keep feed.Retention, now time.Time) (store.PruneResult, error) {
	var res store.PruneResult
	if story.Keeps(keep) {
		return res, nil
	}
	stamp := jsonTime(now).Unix()
	for {
		n, err := db.pruneBatch(ctx, sourceID, keep, now, stamp)
		if err != nil {
			return res, fmt.Errorf("prune %s: %w", sourceID, err)
		}
		if n > 0 {
			res.Batches++
		}
		res.Items += n
		if n < store.PruneBatch {
			break
		}
	}
	n, err := db.trimTombstones(ctx, sourceID)
	if err != nil {
		return res, fmt.Errorf("prune %s: %w", sourceID, err)
	}
	res.Tombstones = n
	return res, nil
}

// pruneBatch deletes up to store.PruneBatch of the oldest items that must go
// (story.Retain) and returns how many it deleted.
func (db *DB) pruneBatch(ctx context.Context, sourceID string, keep feed.Retention, now time.Time, stamp int64) (int, error) {
	deleted := 0
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		id := []byte(sourceID)
		ib, tb := tx.Bucket(bucketItems).Bucket(id), tx.Bucket(bucketByTime).Bucket(id)
		if ib == nil || tb == nil {
			return nil
		}
		total := int(ib.Sequence())
		retain := story.Retain(keep, total, now)
		var doomed [][]byte
		c := tb.Cursor()
		for k, _ := c.Last(); k != nil && len(doomed) < store.PruneBatch; k, _ = c.Prev() {
			if !validIndexKey(k) {
				return fmt.Errorf("bad index key %s", clip(k))
			}
			if !retain.Deletes(len(doomed), stampTime(binary.BigEndian.Uint64(k))) {
				break
			}
			doomed = append(doomed, bytes.Clone(k))
		}
		if len(doomed) == 0 {
			return nil
		}
		graves, err := tx.CreateBucketIfNotExists(bucketTombstones)
		if err != nil {
			return err
		}
		gb, err := graves.CreateBucketIfNotExists(id)
		if err != nil {
			return err
		}
		fill(gb)
		when := binary.BigEndian.AppendUint64(nil, uint64(stamp))
		removed := 0 // items of the source itself; the rest are merged copies' entries
		for _, k := range doomed {
			key := k[8:]
			was, err := deleteItem(tx, ib, tb, k, key, sourceID, time.Unix(stamp, 0))
			if err != nil {
				return err
			}
			if was {
				removed++
			}
			if gb.Get(key) == nil {
				if err := gb.SetSequence(gb.Sequence() + 1); err != nil {
					return err
				}
			}
			if err := gb.Put(key, when); err != nil {
				return err
			}
		}
		deleted = len(doomed)
		n := uint64(max(total-removed, 0))
		if err := ib.SetSequence(n); err != nil {
			return err
		}
		if v := tx.Bucket(bucketSources).Get(id); v != nil {
			st, err := decodeState(sourceID, v)
			if err != nil {
				return fmt.Errorf("state: %w", err)
			}
			st.Items = int(n)
			return putState(tx, st)
		}
		return nil
	})
	return deleted, err
}

// deleteItem removes one bytime entry of sourceID and the item it names, if
// the source stores it (the entry of a copy merged into another source's
// story names no item here), with the item's place in the write order
// (byrev: it is written again as gone, so that followers of the write
// order drop it), its entries in the link and title indexes (so no later
// copy merges into a story that is gone) and its entries in every
// membership index (member.go). Its archive place (byseq) stays: positions
// never move. It reports whether an item was deleted.
func deleteItem(tx *bbolt.Tx, ib, tb *bbolt.Bucket, indexKey, key []byte, sourceID string, now time.Time) (bool, error) {
	v := ib.Get(key)
	if v != nil {
		it, err := decodeItem(sourceID, string(key), v)
		if err != nil {
			return false, fmt.Errorf("item %s: %w", clip(key), err)
		}
		if err := goneRev(tx, it); err != nil {
			return false, fmt.Errorf("item %s: %w", clip(key), err)
		}
		if err := unindexStory(tx, it, now); err != nil {
			return false, fmt.Errorf("item %s: %w", clip(key), err)
		}
		if err := forgetStory(tx, it); err != nil {
			return false, fmt.Errorf("item %s: %w", clip(key), err)
		}
		if err := ib.Delete(key); err != nil {
			return false, fmt.Errorf("item %s: %w", clip(key), err)
		}
	}
	if err := tb.Delete(indexKey); err != nil {
		return false, fmt.Errorf("item %s: %w", clip(key), err)
	}
	return v != nil, nil
}

// trimTombstones drops the tombstones of sourceID pruned longest ago
// beyond store.MaxTombstones, in one transaction (at most a scan of
// store.MaxTombstones+store.PruneBatch·k small entries, only when over the cap).
func (db *DB) trimTombstones(ctx context.Context, sourceID string) (int, error) {
	dropped := 0
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		graves := tx.Bucket(bucketTombstones)
		if graves == nil {
			return nil
		}
		gb := graves.Bucket([]byte(sourceID))
		if gb == nil || gb.Sequence() <= store.MaxTombstones {
			return nil
		}
		type grave struct {
			key  []byte
			when uint64
		}
		var all []grave
		if err := gb.ForEach(func(k, v []byte) error {
			var w uint64
			if len(v) == 8 {
				w = binary.BigEndian.Uint64(v)
			}
			all = append(all, grave{bytes.Clone(k), w})
			return nil
		}); err != nil {
			return err
		}
		slices.SortFunc(all, func(a, b grave) int {
			if a.when != b.when {
				return compareUint(a.when, b.when)
			}
			return bytes.Compare(a.key, b.key)
		})
		for _, g := range all[:max(len(all)-store.MaxTombstones, 0)] {
			if err := gb.Delete(g.key); err != nil {
				return err
			}
			dropped++
		}
		return gb.SetSequence(uint64(len(all) - dropped))
	})
	return dropped, err
}

func compareUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// buried reports whether key of the source whose tombstone bucket is gb
// was pruned; gb may be nil (nothing ever pruned).
func buried(gb *bbolt.Bucket, key []byte) bool {
	return gb != nil && gb.Get(key) != nil
}

// tombstones returns the tombstone bucket of sourceID in tx, nil when the
// source never had an item pruned.
func tombstones(tx *bbolt.Tx, sourceID []byte) *bbolt.Bucket {
	if g := tx.Bucket(bucketTombstones); g != nil {
		return g.Bucket(sourceID)
	}
	return nil
}

// Tombstones returns how many pruned item keys of sourceID are remembered.
func (db *DB) Tombstones(ctx context.Context, sourceID string) (int, error) {
	var n uint64
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		if gb := tombstones(tx, []byte(sourceID)); gb != nil {
			n = gb.Sequence()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("tombstones %s: %w", sourceID, err)
	}
	return int(n), nil
}
