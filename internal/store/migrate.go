package store

import (
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/kpolicy/aggregator/internal/feed"
)

// migrate1 brings a schema 1 file to schema 2, in Open's write
// transaction: every stored item's link becomes canonical (so the next
// poll, which delivers canonical links, does not count every item as
// edited), and the links and titles indexes are built from the items, the
// first item of each canonical link winning. Items that schema 1 stored
// twice under two sources stay two stories: only later copies are merged.
func migrate1(tx *bbolt.Tx) error {
	items := tx.Bucket(bucketItems)
	var sources [][]byte
	if err := items.ForEachBucket(func(id []byte) error {
		sources = append(sources, append([]byte(nil), id...))
		return nil
	}); err != nil {
		return err
	}
	for _, id := range sources {
		if err := migrateSource(tx, string(id)); err != nil {
			return fmt.Errorf("source %s: %w", clip(id), err)
		}
	}
	return nil
}

func migrateSource(tx *bbolt.Tx, src string) error {
	ib := tx.Bucket(bucketItems).Bucket([]byte(src))
	var (
		all      []feed.Item
		rewrites []feed.Item
	)
	err := ib.ForEach(func(k, v []byte) error {
		if v == nil {
			return nil // a nested bucket: not an item
		}
		it, err := decodeItem(src, string(k), v)
		if err != nil {
			return fmt.Errorf("item %s: %w", clip(k), err)
		}
		all = append(all, it)
		if c := feed.CanonicalURL(it.Link); c != it.Link {
			it.Link = c
			rewrites = append(rewrites, it)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, it := range rewrites {
		v, err := encodeItem(it)
		if err != nil {
			return fmt.Errorf("item %s: %w", clip([]byte(it.Key)), err)
		}
		if err := ib.Put([]byte(it.Key), v); err != nil {
			return err
		}
	}
	dd, err := newDedupe(tx, src, 0, time.Time{}, true)
	if err != nil {
		return err
	}
	dd.poll = &pollInfo{}
	for _, it := range all {
		if err := dd.index(it, it.Sort(), ref{src, it.Key}); err != nil {
			return err
		}
	}
	return nil
}
