package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strconv"

	"go.etcd.io/bbolt"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
)

// The write-order index:
//
//	byrev / <8-byte big-endian rev> → <source id> 0x00 <item key>
//	gone  / <8-byte big-endian rev> → <source id> 0x00 <item key>   deleted, at that rev
//	meta  / "indexed_rev"           → the last Rev the search index holds, decimal ASCII
//
// Every write of an item (new or changed) takes the next number of the
// byrev bucket's sequence, stores it as the item's Rev and moves the item's
// byrev entry there, so walking byrev from a known number finds every item
// written since, each once, in its latest version. A consumer that keeps the
// last number it processed (the search index keeps it under "indexed_rev")
// catches up after a crash by starting from there. An item is also written
// again when another source's copy is merged into it (a new carrier) and
// when it enters or leaves a channel's membership index (member.go); a
// deleted item moves to gone, under a new number, until TrimGone. (Seq, in
// archive.go, is the other order: first insertion, which never changes.)
var (
	bucketByRev   = []byte("byrev")
	bucketGone    = []byte("gone")
	keyIndexedRev = []byte("indexed_rev")
)

// initRev creates the byrev bucket of a file written before it existed and
// numbers the items already stored, source by source, oldest first.
func (db *DB) initRev(ctx context.Context) error {
	exists := false
	if err := db.view(ctx, func(tx *bbolt.Tx) error {
		exists = tx.Bucket(bucketByRev) != nil
		return nil
	}); err != nil || exists {
		return err
	}
	return db.update(ctx, func(tx *bbolt.Tx) error {
		if _, err := tx.CreateBucket(bucketByRev); err != nil {
			return err
		}
		items, index := tx.Bucket(bucketItems), tx.Bucket(bucketByTime)
		return items.ForEachBucket(func(id []byte) error {
			ib, tb := items.Bucket(id), index.Bucket(id)
			if tb == nil {
				return nil
			}
			c := tb.Cursor()
			for k, _ := c.Last(); k != nil; k, _ = c.Prev() {
				if !validIndexKey(k) {
					return fmt.Errorf("source %s: bad index key %s", clip(id), clip(k))
				}
				key := k[8:]
				v := ib.Get(key)
				if v == nil {
					continue
				}
				it, err := decodeItem(string(id), string(key), v)
				if err != nil {
					return fmt.Errorf("source %s item %s: %w", clip(id), clip(key), err)
				}
				if it.Rev, err = nextRev(tx, it, 0); err != nil {
					return err
				}
				enc, err := encodeItem(it)
				if err != nil {
					return err
				}
				if err := ib.Put(key, enc); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

// nextRev takes the next write number for it, records it in byrev and drops
// the entry under oldRev (0: none).
func nextRev(tx *bbolt.Tx, it feed.Item, oldRev uint64) (uint64, error) {
	b := tx.Bucket(bucketByRev)
	if oldRev != 0 {
		if err := b.Delete(revKey(oldRev)); err != nil {
			return 0, fmt.Errorf("item %q: %w", it.Key, err)
		}
	}
	seq, err := b.NextSequence()
	if err != nil {
		return 0, fmt.Errorf("item %q: %w", it.Key, err)
	}
	ref := make([]byte, 0, len(it.SourceID)+1+len(it.Key))
	ref = append(append(append(ref, it.SourceID...), 0), it.Key...)
	if err := b.Put(revKey(seq), ref); err != nil {
		return 0, fmt.Errorf("item %q: %w", it.Key, err)
	}
	return seq, nil
}

func revKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// goneRev takes it, which the caller is deleting, out of byrev and
// records it in gone under the next write number.
func goneRev(tx *bbolt.Tx, it feed.Item) error {
	b := tx.Bucket(bucketByRev)
	if it.Rev != 0 {
		if err := b.Delete(revKey(it.Rev)); err != nil {
			return err
		}
	}
	n, err := b.NextSequence()
	if err != nil {
		return err
	}
	g, err := tx.CreateBucketIfNotExists(bucketGone)
	if err != nil {
		return err
	}
	ref := make([]byte, 0, len(it.SourceID)+1+len(it.Key))
	ref = append(append(append(ref, it.SourceID...), 0), it.Key...)
	return g.Put(revKey(n), ref)
}

// ItemsSince returns up to limit items whose Rev is greater than seq, in
// Rev order (the order they were last written). An item deleted since
// (pruned) comes once more, as gone: only its SourceID, Key and Rev are
// set, and its Seq is zero, so that a follower drops it. limit <= 0
// returns none.
func (db *DB) ItemsSince(ctx context.Context, seq uint64, limit int) ([]feed.Item, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []feed.Item
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		items := tx.Bucket(bucketItems)
		live := tx.Bucket(bucketByRev).Cursor()
		var gone *bbolt.Cursor
		if g := tx.Bucket(bucketGone); g != nil {
			gone = g.Cursor()
		}
		k, ref := live.Seek(revKey(seq + 1))
		var gk, gref []byte
		if gone != nil {
			gk, gref = gone.Seek(revKey(seq + 1))
		}
		for (k != nil || gk != nil) && len(out) < limit {
			if gk != nil && (k == nil || bytes.Compare(gk, k) < 0) {
				id, key, ok := cutRef(gref)
				if len(gk) != 8 || !ok {
					return fmt.Errorf("bad gone entry %s", clip(gk))
				}
				out = append(out, feed.Item{SourceID: string(id), Key: string(key), Rev: binary.BigEndian.Uint64(gk)})
				gk, gref = gone.Next()
				continue
			}
			if len(k) != 8 {
				return fmt.Errorf("bad seq key %s", clip(k))
			}
			id, key, ok := cutRef(ref)
			if !ok {
				return fmt.Errorf("seq %d: bad item reference %s", binary.BigEndian.Uint64(k), clip(ref))
			}
			var v []byte
			if ib := items.Bucket(id); ib != nil {
				v = ib.Get(key)
			}
			if v == nil {
				return fmt.Errorf("seq %d names missing item %s %s", binary.BigEndian.Uint64(k), clip(id), clip(key))
			}
			it, err := decodeItem(string(id), string(key), v)
			if err != nil {
				return fmt.Errorf("source %s item %s: %w", clip(id), clip(key), err)
			}
			out = append(out, it)
			k, ref = live.Next()
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("items since %d: %w", seq, err)
	}
	return out, nil
}

// TrimGone forgets the gone entries (see ItemsSince) whose Rev is at most
// upTo: every follower of the write order has seen them. It returns how
// many it removed.
func (db *DB) TrimGone(ctx context.Context, upTo uint64) (int, error) {
	n := 0
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		g := tx.Bucket(bucketGone)
		if g == nil {
			return nil
		}
		c := g.Cursor()
		for k, _ := c.First(); k != nil && len(k) == 8 && binary.BigEndian.Uint64(k) <= upTo && n < store.PruneBatch*10; k, _ = c.First() {
			if err := g.Delete(k); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("trim gone: %w", err)
	}
	return n, nil
}

func cutRef(ref []byte) (id, key []byte, ok bool) {
	for i, c := range ref {
		if c == 0 {
			return ref[:i], ref[i+1:], i > 0 && i+1 < len(ref)
		}
	}
	return nil, nil, false
}

// LastRev returns the Rev of the latest write; 0 for an empty store.
func (db *DB) LastRev(ctx context.Context) (uint64, error) {
	var n uint64
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		n = tx.Bucket(bucketByRev).Sequence()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("last rev: %w", err)
	}
	return n, nil
}

// IndexedRev returns the last Rev recorded with SetIndexedRev; 0 when none.
func (db *DB) IndexedRev(ctx context.Context) (uint64, error) {
	var n uint64
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketMeta).Get(keyIndexedRev)
		if v == nil {
			return nil
		}
		var err error
		n, err = strconv.ParseUint(string(v), 10, 64)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("indexed rev: %w", err)
	}
	return n, nil
}

// SetIndexedRev records seq as the last Rev the search index holds.
func (db *DB) SetIndexedRev(ctx context.Context, seq uint64) error {
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyIndexedRev, strconv.AppendUint(nil, seq, 10))
	})
	if err != nil {
		return fmt.Errorf("set indexed rev: %w", err)
	}
	return nil
}
