package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	"go.etcd.io/bbolt"

	"github.com/kpolicy/aggregator/internal/feed"
)

// The archive order: every item gets, when first stored, the next number of
// one counter over all sources ([feed.Item.Seq]), and an entry in
//
//	byseq / <8-byte big-endian seq> → <source id> 0x00 <item key>
//
// whose bucket sequence is the last number given. Walking byseq forward
// lists items in the order the aggregator first saw them, which never
// changes as new items arrive: archive pages cut from it are stable, and a
// reader of the index (search) can resume after the last Seq it saw.

var bucketBySeq = []byte("byseq")

// seqKey is the byseq key of n.
func seqKey(n uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, n)
}

// nextSeq gives the item (sourceID, key) the next Seq and indexes it.
func nextSeq(tx *bbolt.Tx, sourceID, key string) (uint64, error) {
	b, err := tx.CreateBucketIfNotExists(bucketBySeq)
	if err != nil {
		return 0, err
	}
	n, err := b.NextSequence()
	if err != nil {
		return 0, err
	}
	v := make([]byte, 0, len(sourceID)+1+len(key))
	v = append(append(append(v, sourceID...), 0), key...)
	if err := b.Put(seqKey(n), v); err != nil {
		return 0, fmt.Errorf("item %q: %w", key, err)
	}
	return n, nil
}

// initSeq creates byseq in a file that predates it and numbers the items
// already stored, oldest FirstSeen first (then by source id and key), so
// that such a file gets the same stable archive as a new one.
func (db *DB) initSeq() error {
	var exists bool
	if err := db.view(func(tx *bbolt.Tx) error {
		exists = tx.Bucket(bucketBySeq) != nil
		return nil
	}); err != nil || exists {
		return err
	}
	return db.update(func(tx *bbolt.Tx) error {
		if _, err := tx.CreateBucket(bucketBySeq); err != nil {
			return err
		}
		var all []feed.Item
		items := tx.Bucket(bucketItems)
		err := items.ForEachBucket(func(id []byte) error {
			return items.Bucket(id).ForEach(func(k, v []byte) error {
				it, err := decodeItem(string(id), string(k), v)
				if err != nil {
					return fmt.Errorf("source %q item %s: %w", id, clip(k), err)
				}
				all = append(all, it)
				return nil
			})
		})
		if err != nil {
			return err
		}
		slices.SortFunc(all, func(a, b feed.Item) int {
			if c := a.FirstSeen.Compare(b.FirstSeen); c != 0 {
				return c
			}
			if c := bytes.Compare([]byte(a.SourceID), []byte(b.SourceID)); c != 0 {
				return c
			}
			return bytes.Compare([]byte(a.Key), []byte(b.Key))
		})
		for _, it := range all {
			n, err := nextSeq(tx, it.SourceID, it.Key)
			if err != nil {
				return err
			}
			it.Seq = n
			v, err := encodeItem(it)
			if err != nil {
				return err
			}
			if err := items.Bucket([]byte(it.SourceID)).Put([]byte(it.Key), v); err != nil {
				return err
			}
		}
		return nil
	})
}

// SeqItems returns the items of the given sources in the order they were
// first stored (ascending Seq): those at positions skip to skip+limit-1 of
// that order, and the number of positions in all. A position whose item is
// no longer stored still counts, so that later positions never move;
// its item is left out. Unknown source ids are ignored.
//
// It walks the whole byseq index, reading item records only for the
// positions it returns.
func (db *DB) SeqItems(sourceIDs []string, skip, limit int) ([]feed.Item, int, error) {
	want := make(map[string]bool, len(sourceIDs))
	for _, id := range sourceIDs {
		want[id] = true
	}
	var (
		out   []feed.Item
		total int
	)
	err := db.view(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketBySeq)
		if b == nil || len(want) == 0 {
			return nil
		}
		items := tx.Bucket(bucketItems)
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			src, key, ok := bytes.Cut(v, []byte{0})
			if !ok || len(k) != 8 {
				return fmt.Errorf("bad byseq entry %s", clip(k))
			}
			if !want[string(src)] {
				continue
			}
			pos := total
			total++
			if pos < skip || pos >= skip+limit {
				continue
			}
			ib := items.Bucket(src)
			if ib == nil {
				continue
			}
			data := ib.Get(key)
			if data == nil {
				continue
			}
			it, err := decodeItem(string(src), string(key), data)
			if err != nil {
				return fmt.Errorf("source %q item %s: %w", src, clip(key), err)
			}
			it.Seq = binary.BigEndian.Uint64(k)
			out = append(out, it)
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("seq items: %w", err)
	}
	return out, total, nil
}

// LastSeq returns the last Seq given to an item; 0 when none was.
func (db *DB) LastSeq() (uint64, error) {
	var n uint64
	err := db.view(func(tx *bbolt.Tx) error {
		if b := tx.Bucket(bucketBySeq); b != nil {
			n = b.Sequence()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("last seq: %w", err)
	}
	return n, nil
}
