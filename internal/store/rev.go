package store

import (
	"encoding/binary"
	"fmt"
	"strconv"

	"go.etcd.io/bbolt"

	"github.com/kpolicy/aggregator/internal/feed"
)

// The write-order index:
//
//	byrev / <8-byte big-endian rev> → <source id> 0x00 <item key>
//	meta  / "indexed_rev"           → the last Rev the search index holds, decimal ASCII
//
// Every write of an item (new or changed) takes the next number of the
// byrev bucket's sequence, stores it as the item's Rev and moves the item's
// byrev entry there, so walking byrev from a known number finds every item
// written since, each once, in its latest version. A consumer that keeps the
// last number it processed (the search index keeps it under "indexed_rev")
// catches up after a crash by starting from there. (Seq, in archive.go, is
// the other order: first insertion, which never changes.)
var (
	bucketByRev   = []byte("byrev")
	keyIndexedRev = []byte("indexed_rev")
)

// initRev creates the byrev bucket of a file written before it existed and
// numbers the items already stored, source by source, oldest first.
func (db *DB) initRev() error {
	exists := false
	if err := db.view(func(tx *bbolt.Tx) error {
		exists = tx.Bucket(bucketByRev) != nil
		return nil
	}); err != nil || exists {
		return err
	}
	return db.update(func(tx *bbolt.Tx) error {
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

// ItemsSince returns up to limit items whose Rev is greater than seq, in
// Rev order (the order they were last written). limit <= 0 returns none.
func (db *DB) ItemsSince(seq uint64, limit int) ([]feed.Item, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []feed.Item
	err := db.view(func(tx *bbolt.Tx) error {
		items := tx.Bucket(bucketItems)
		c := tx.Bucket(bucketByRev).Cursor()
		for k, ref := c.Seek(revKey(seq + 1)); k != nil && len(out) < limit; k, ref = c.Next() {
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
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("items since %d: %w", seq, err)
	}
	return out, nil
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
func (db *DB) LastRev() (uint64, error) {
	var n uint64
	err := db.view(func(tx *bbolt.Tx) error {
		n = tx.Bucket(bucketByRev).Sequence()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("last rev: %w", err)
	}
	return n, nil
}

// IndexedRev returns the last Rev recorded with SetIndexedRev; 0 when none.
func (db *DB) IndexedRev() (uint64, error) {
	var n uint64
	err := db.view(func(tx *bbolt.Tx) error {
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
func (db *DB) SetIndexedRev(seq uint64) error {
	err := db.update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyIndexedRev, strconv.AppendUint(nil, seq, 10))
	})
	if err != nil {
		return fmt.Errorf("set indexed rev: %w", err)
	}
	return nil
}
