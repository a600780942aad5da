package bolt

import (
	"bytes"
	"context"
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
// changes as new items arrive: the membership indexes cut archive pages in
// that order (member.go), and a reader can resume after the last Seq it
// saw.

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
func (db *DB) initSeq(ctx context.Context) error {
	var exists bool
	if err := db.view(ctx, func(tx *bbolt.Tx) error {
		exists = tx.Bucket(bucketBySeq) != nil
		return nil
	}); err != nil || exists {
		return err
	}
	return db.update(ctx, func(tx *bbolt.Tx) error {
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
