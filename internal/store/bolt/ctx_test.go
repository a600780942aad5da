package bolt

import (
	"context"

	"go.etcd.io/bbolt"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
)

var ctx = context.Background()

func itemsOf(db *DB, ids []string, n int) ([]feed.Item, error) {
	return db.ItemsAfter(ctx, ids, nil, n)
}

func updateIndex(db *DB, index string, u store.IndexUpdate) (store.IndexState, error) {
	sts, err := db.UpdateIndexes(ctx, map[string]store.IndexUpdate{index: u})
	return sts[index], err
}

func lastSeq(db *DB) (uint64, error) {
	var n uint64
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		if b := tx.Bucket(bucketBySeq); b != nil {
			n = b.Sequence()
		}
		return nil
	})
	return n, err
}
